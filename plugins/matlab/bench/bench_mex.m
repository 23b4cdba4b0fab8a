function bench_mex(dir, runs, side, ks)
%BENCH_MEX  The MEX side of the overhead benchmark (see bench_c.c): the same map, defects
%   and settings through qpik_extract, [K, info] and K alone; prints the medians.
  f = fopen(fullfile(dir, 'map.bin')); map = reshape(fread(f, Inf, 'double'), side, side); fclose(f);
  f = fopen(fullfile(dir, 'positions.bin')); p = reshape(fread(f, Inf, 'double'), 2, []).' + 1; fclose(f);
  args = {'Defects', p, 'KernelSize', ks, 'Smoothness', 0.1, 'RefinePositions', 0, ...
          'Bootstrap', 0, 'Symmetry', 'none'};
  t = zeros(runs, 2);
  for r = -1:runs
    t0 = tic; [K, info] = qpik_extract(map, args{:}); a = toc(t0);
    t0 = tic; K = qpik_extract(map, args{:}); b = toc(t0);
    if r >= 1
      t(r, :) = [a b];
    end
  end
  printf(['MEX: %d x %d, S = %d, %d defects: [K, info] median %.2f ms (min %.2f), ' ...
          'K alone median %.2f ms (min %.2f) of %d calls\n'], side, side, ks, size(p, 1), ...
         1e3 * median(t(:, 1)), 1e3 * min(t(:, 1)), 1e3 * median(t(:, 2)), 1e3 * min(t(:, 2)), runs);
end
