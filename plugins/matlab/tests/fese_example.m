function fese_example(sxm, outdir)
%FESE_EXAMPLE  The worked example of docs/matlab.md on the real FeSe scan, and its test:
%   reads LIY_1_omega and Z with qpik_read_sxm, extracts with defects from Z, prints the
%   figures, and writes the positions found (0-based text, for `qpik extract --positions`)
%   and the kernel (row-major float64) into OUTDIR for comparison with the CLI.
  [liy, meta] = qpik_read_sxm(sxm, 'LIY_1_omega');
  z = qpik_read_sxm(sxm, 'Z');
  t0 = tic;
  [K, info] = qpik_extract(liy, 'Topography', z, 'PixelSize', meta.pixel_size_m, ...
                           'Unit', meta.unit, 'RefinePositions', 0, 'Smoothness', 0.03);
  printf('FeSe: %d defects from Z, kernel %d x %d, held-out R^2 %.3f, fit R^2 %.3f, %.2f s\n', ...
         size(info.positions, 1), size(K, 1), size(K, 2), info.heldout_r2, info.fit_r2, toc(t0));
  f = fopen(fullfile(outdir, 'positions.txt'), 'w');
  fprintf(f, '%.9g, %.9g\n', (info.positions - 1).');
  fclose(f);
  f = fopen(fullfile(outdir, 'kernel.bin'), 'w');
  fwrite(f, K.', 'double');
  fclose(f);
end
