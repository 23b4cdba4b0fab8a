function test_qpik_mex(refdir)
%TEST_QPIK_MEX  Tests of the qpik MEX functions against the C ABI (GNU Octave or MATLAB).
%   test_qpik_mex(REFDIR): REFDIR holds the values plugins/matlab/tests/reference.c computed
%   through the C ABI on the same inputs. Checks the results of qpik_extract (2-D double
%   with a mask, 2-D single with positions, an H x W x E stack, defects from a topography),
%   qpik_simulate, and every error identifier the gateways can raise. Exits with status 1
%   on any failure (run it with octave-cli --eval).
  global n_checks n_failed
  n_checks = 0;
  n_failed = 0;
  dims = rd(refdir, 'dims', [1 5]);
  H = dims(1); W = dims(2); E = dims(3); N = dims(4); NT = dims(5);
  map = rd(refdir, 'map', [H W]);
  mask = rd(refdir, 'mask', [H W]) > 0.5;
  pos = rd(refdir, 'positions', [N 2]) + 1;          % 1-based
  stack = rd(refdir, 'stack', [E H W]);
  topo = rd(refdir, 'topography', [H W]);
  common = {'KernelSize', 21, 'Seed', 1, 'Bootstrap', 2};

  % 2-D, double, logical mask.
  [K, info] = qpik_extract(map, 'Defects', mask, common{:});
  compare(refdir, 'mask', K, info, H, W, 1, N, 'double');
  check(strcmp(info.defects_source, 'mask'), 'mask: defects_source');
  % The same mask as double and as uint8 gives the same kernel.
  K2 = qpik_extract(map, 'Defects', double(mask), common{:});
  check(near(K2, K, 1e-9), 'mask as double gives the same kernel');
  K3 = qpik_extract(map, 'Defects', uint8(mask), common{:});
  check(near(K3, K, 1e-9), 'mask as uint8 gives the same kernel');

  % 2-D, single, positions (1-based here, 0-based in C).
  [K, info] = qpik_extract(single(map), 'Defects', pos, common{:});
  compare(refdir, 'single', K, info, H, W, 1, N, 'single');
  check(strcmp(info.defects_source, 'positions'), 'single: defects_source');
  Kp = qpik_extract(single(map), 'Defects', single(pos), common{:});
  check(near(Kp, K, 1e-6), 'single-precision positions give the same kernel');

  % H x W x E stack, double.
  [K, info] = qpik_extract(stack, 'Defects', pos, common{:});
  compare(refdir, 'stack', K, info, H, W, E, N, 'double');
  % A non-contiguous view cannot reach a MEX file; a permuted copy must give the same.
  Ks = qpik_extract(single(stack), 'Defects', pos, common{:});
  check(isa(Ks, 'single') && isequal(size(Ks), [21 21 E]), 'single stack: class and size');
  check(max(abs(double(Ks(:)) - K(:))) <= 1e-4 * max(abs(K(:))), 'single stack ~ double stack');

  % Defects found in a topography (qpik_find_defects), compared with the C path.
  found = rd(refdir, 'topo_found', [NT 2]) + 1;
  [K, info] = qpik_extract(map, 'Topography', topo, common{:});
  compare(refdir, 'topo', K, info, H, W, 1, NT, 'double');
  check(strcmp(info.defects_source, 'topography'), 'topo: defects_source');
  check(NT == N, sprintf('topography: %d defects found of %d', NT, N));
  % Each true defect has a found one (independent of qpik's own numbers): within 0.05 px
  % when isolated (bumps of 4 px FWHM more than 8 px from any other), within 1 px when its
  % bump overlaps another's (the overlap pulls the fitted centres together).
  d = zeros(N, 1);
  isolated = true(N, 1);
  for i = 1:N
    d(i) = min(sqrt(sum((found - pos(i, :)).^2, 2)));
    others = pos([1:i-1, i+1:N], :);
    isolated(i) = min(sqrt(sum((others - pos(i, :)).^2, 2))) > 8;
  end
  check(any(isolated) && all(d(isolated) < 0.05) && all(d < 1), ...
        sprintf('topography: distances to the true defects %s', mat2str(d', 3)));
  % Dark defects in -Z are the bright ones of Z.
  [~, idark] = qpik_extract(map, 'Topography', -topo, 'Polarity', 'dark', common{:}, ...
                            'RefinePositions', 0);
  [~, ibright] = qpik_extract(map, 'Topography', topo, common{:}, 'RefinePositions', 0);
  dd = zeros(size(ibright.positions, 1), 1);
  for i = 1:numel(dd)
    dd(i) = min(sqrt(sum((idark.positions - ibright.positions(i, :)).^2, 2)));
  end
  check(all(dd < 1e-3), 'dark defects of -Z include the bright defects of Z');

  % Metadata options reach qpik.
  [~, info] = qpik_extract(map, 'Defects', mask, common{:}, 'PixelSize', 2.5e-10);
  check(abs(info.pixel_size_m - 2.5e-10) < 1e-22, 'PixelSize comes back in metres');
  % Provenance: the version, the point group as chosen, the defect count.
  check(ischar(info.qpik_version) && ~isempty(regexp(info.qpik_version, '^\d+\.\d+\.\d+', 'once')), ...
        'info.qpik_version is the library version');
  check(ischar(info.symmetry_name) && ~isempty(info.symmetry_name), 'info.symmetry_name is set');
  check(info.defects == size(info.positions, 1), 'info.defects counts the positions');
  % Angstrom given as metres: refused with a hint at the unit.
  try
    qpik_extract(map, 'Defects', mask, common{:}, 'PixelSize', 0.893);
    check(false, 'PixelSize 0.893 (Angstrom as metres) is refused');
  catch err
    check(strcmp(err.identifier, 'qpik:QPIK_ERR_OPTION_VALUE') && ...
          ~isempty(strfind(err.message, 'did you mean 0.893 Angstrom')), err.message);
  end
  [~, info] = qpik_extract(map, 'Defects', mask, 'KernelSize', 21, 'Symmetry', 3, ...
                           'Bootstrap', 0);
  check(info.symmetry == 3, 'Symmetry 3 is applied');
  check(isnan(info.mirror_axis_deg), 'no mirror line without mirrors');
  [~, info] = qpik_extract(map, 'Defects', mask, 'KernelSize', 21, 'Symmetry', '4mm', ...
                           'Decay', 0, 'Bootstrap', 0);
  check(info.symmetry == 4 && info.mirror_axis_deg >= 0 && info.mirror_axis_deg < 45, ...
        'Symmetry 4mm gives a mirror line in [0, 45) degrees');
  % Without defects qpik estimates them, on a map of 16 ring defects (the blind search needs
  % a pattern that repeats at least 3 times: of the graphene map's 8 defects it finds 2,
  % and refuses them; that refusal is tested in Rust).
  bmap = ring_map(H, W);
  [~, info] = qpik_extract(bmap, 'KernelSize', 21, 'Bootstrap', 0);
  check(info.positions_estimated && strcmp(info.defects_source, 'estimated'), 'estimated');
  test_blind_report(bmap, map, mask, H, W, common);

  % Blind and Types reach map.blind and map.types. What the engine makes of them is tested
  % in Rust (given defects are one type of their own; a blind search adds types while they
  % pay, so a map of one kernel may stay at one type).
  [~, info] = qpik_extract(bmap, 'Blind', true, 'Types', 2, common{:});
  check(strcmp(info.method, 'blind') && info.num_types >= 1 && info.num_types <= 2 && ...
        size(info.types, 1) == size(info.positions, 1), 'Blind with Types 2');
  try
    qpik_extract(map, 'Blind', true, 'Types', 99, common{:});
    check(false, 'Types 99: no error');
  catch err
    check(strcmp(err.identifier, 'qpik:QPIK_ERR_OPTION_VALUE') && ...
          ~isempty(strfind(err.message, 'types')), ['Types 99: ' err.message]);
  end

  test_simulate(map, mask, pos);
  test_errors(map, mask, topo);

  % The MEX files stay loaded (mexLock: libqpik's threads live on) and work after clear.
  clear qpik_extract qpik_simulate
  K = qpik_extract(map, 'Defects', mask, common{:});
  check(isequal(size(K), [21 21]), 'works after clear');

  printf('test_qpik_mex: %d checks, %d failed\n', n_checks, n_failed);
  if n_failed > 0
    exit(1);
  end
end

% A blind run says so (with or without 'Blind') and what it left out: the last lines of an
% aborted scan, as a logical mask, counted and named in the notes; a forward run leaves
% nothing out; a kernel fitted to noise explains little and warns.
function test_blind_report(bmap, map, mask, H, W, common)
  [~, info] = qpik_extract(bmap, 'KernelSize', 21, 'Bootstrap', 0);
  check(strcmp(info.method, 'blind'), ['no defects given: method ' info.method]);
  aborted = bmap;
  aborted(end-3:end, :) = 0.25;
  [~, info] = qpik_extract(aborted, 'KernelSize', 21, 'Bootstrap', 0);
  check(strcmp(info.method, 'blind') && islogical(info.excluded) && ...
        isequal(size(info.excluded), [H W]), 'blind: method, excluded H x W logical');
  check(all(all(info.excluded(end-3:end, :))) && info.excluded_pixels == nnz(info.excluded), ...
        sprintf('blind: aborted lines left out (%d pixels)', info.excluded_pixels));
  check(ischar(info.notes) && ~isempty(strfind(info.notes, 'constant scan lines')), ...
        ['blind: notes ' info.notes]);
  check(isfinite(info.control_heldout_r2) && info.control_heldout_r2 < info.heldout_r2, ...
        sprintf('blind: control %g below the kernel %g', info.control_heldout_r2, info.heldout_r2));
  [~, info] = qpik_extract(map, 'Defects', mask, common{:});
  check(strcmp(info.method, 'forward') && info.excluded_pixels == 0 && ...
        ~any(info.excluded(:)) && ~info.explains_little && isnan(info.control_heldout_r2), ...
        'forward: nothing left out, no control');
  rand('state', 3);
  lastwarn('');
  [~, info] = qpik_extract(rand(H, W), 'Defects', mask, common{:});
  [~, id] = lastwarn();
  check(info.explains_little && strcmp(id, 'qpik:explainsLittle'), ...
        sprintf('noise: explains_little %d, warning "%s"', info.explains_little, id));
  % The unknown-parameter message names every parameter the help text lists.
  names = {'Defects', 'Topography', 'Polarity', 'Blind', 'Types', 'KernelSize', ...
           'Symmetry', 'PixelSize', 'Background', 'Smoothness', 'Decay', 'Bootstrap', ...
           'RefinePositions', 'Seed', 'Energies', 'Unit', 'Options'};
  try
    qpik_extract(map, 'Nope', 1);
    check(false, 'unknown parameter: no error');
  catch err
    missing = names(cellfun(@(n) isempty(strfind(err.message, n)), names));
    check(isempty(missing), ['unknown parameter: the message lacks ' strjoin(missing, ', ')]);
  end
end

function test_simulate(map, mask, pos)
  names = qpik_simulate('catalog');
  check(iscellstr(names) && numel(names) >= 100, 'catalog names');
  check(any(strcmp(names, 'graphene-500meV')), 'catalog has graphene-500meV');
  toml = qpik_simulate('spec', 'graphene-500meV');
  check(ischar(toml) && ~isempty(strfind(toml, 'graphene')), 'spec text');
  [K, kinfo] = qpik_simulate('kernel', 'graphene-500meV', 'Size', 33);
  check(isequal(size(K), [33 33]) && isequal(kinfo.centre, [17 17]), 'kernel size, centre');
  [K2, ~] = qpik_simulate('kernel', 'Spec', toml, 'Size', 33);
  check(near(K2, K, 1e-12), 'the catalog spec as TOML gives the catalog kernel');
  % The reference map was made in C from this kernel, seed 7, 8-10 defects.
  [Y, oinfo] = qpik_simulate('observation', 'graphene-500meV', 'Size', 33, ...
                             'MapSize', size(map), 'Seed', 7, 'Count', [8 10]);
  check(max(abs(Y(:) - map(:))) <= 1e-12 * max(abs(map(:))), 'observation equals the C one');
  check(isequal(oinfo.mask, mask), 'observation mask equals the C one');
  check(max(abs(oinfo.positions(:) - pos(:))) < 1e-9, 'observation positions, 1-based');
  check(near(oinfo.kernel, K, 1e-12), 'observation info.kernel');
  [K3, kinfo3] = qpik_simulate('kernel', 'graphene-500meV', 'Size', [31 41], ...
                               'PixelSize', 1e-10, 'Rotation', 30);
  check(isequal(size(K3), [31 41]) && abs(kinfo3.pixel_size_m - 1e-10) < 1e-22 && ...
        kinfo3.rotation_deg == 30 && isequal(kinfo3.centre, [16 21]), 'kernel grid options');
end

function test_errors(map, mask, topo)
  S = {'KernelSize', 21, 'Bootstrap', 0};
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract());
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Defects'));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Nope', 1));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 3, 1));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Defects', mask, 'Topography', topo));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Polarity', 'sideways'));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Defects', false(size(map)), S{:}));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Topography', zeros(size(map)), S{:}));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Defects', [1 1; 1e4 1e4], S{:}));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_extract(map, 'Options', {'map.seed'}));
  expect('QPIK_ERR_SHAPE', @() qpik_extract(zeros(8, 8, 2, 2)));
  expect('QPIK_ERR_SHAPE', @() qpik_extract(map, 'Defects', mask(1:end-1, :), S{:}));
  expect('QPIK_ERR_SHAPE', @() qpik_extract(map, 'Topography', topo(:, 1:end-1), S{:}));
  expect('QPIK_ERR_SHAPE', @() qpik_extract(map(1:10, 1:10), 'KernelSize', 21));
  expect('QPIK_ERR_DTYPE', @() qpik_extract(int32(map)));
  expect('QPIK_ERR_DTYPE', @() qpik_extract(complex(map, map)));
  expect('QPIK_ERR_DTYPE', @() qpik_extract(map, 'Topography', int16(topo)));
  expect('QPIK_ERR_DTYPE', @() qpik_extract(map, 'Defects', int32(mask)));
  bad = map; bad(5, 7) = Inf;
  expect('QPIK_ERR_NOT_FINITE', @() qpik_extract(bad, 'Defects', mask, S{:}));
  expect('QPIK_ERR_NOT_FINITE', @() qpik_extract(map, 'KernelSize', NaN));
  expect('QPIK_ERR_UNKNOWN_OPTION', @() qpik_extract(map, 'Options', {'map.nope', 1}));
  expect('QPIK_ERR_OPTION_VALUE', @() qpik_extract(map, 'KernelSize', -3));
  expect('QPIK_ERR_OPTION_VALUE', @() qpik_extract(map, 'Symmetry', 7));
  expect('QPIK_ERR_OPTION_VALUE', @() qpik_extract(map, 'PixelSize', -1));
  expect('QPIK_ERR_OPTION_VALUE', @() qpik_extract(map, 'KernelSize', 48));
  expect('QPIK_ERR_NOT_FOUND', @() qpik_simulate('kernel', 'no-such-kernel'));
  expect('QPIK_ERR_NOT_FOUND', @() qpik_simulate('spec', 'no-such-kernel'));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_simulate('what'));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_simulate('kernel'));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_simulate('observation', 'graphene-500meV', 'Count', [5 1]));
  expect('QPIK_ERR_INVALID_ARGUMENT', @() qpik_simulate('observation', 'graphene-500meV', 'MapSize', 0));
  expect('QPIK_ERR_OPTION_VALUE', @() qpik_simulate('kernel', 'graphene-500meV', 'Artefacts', 'lots'));
  % After every one of those, the gateways still work (their handles were freed).
  K = qpik_extract(map, 'Defects', mask, S{:});
  check(isequal(size(K), [21 21]), 'works after the errors');
end

% Same class and size, and equal to a relative tol (of max |b|). Two runs of the same
% computation may differ in the last bits: the library's parallel sums group terms by how
% the work was split between threads, which varies with the load.
function ok = near(a, b, tol)
  ok = strcmp(class(a), class(b)) && isequal(size(a), size(b)) && ...
       max(abs(double(a(:)) - double(b(:)))) <= tol * max(abs(double(b(:))));
end

function expect(id, f)
  try
    f();
    check(false, sprintf('expected qpik:%s, got no error', id));
  catch err
    check(strcmp(err.identifier, ['qpik:' id]), ...
          sprintf('expected qpik:%s, got %s (%s)', id, err.identifier, err.message));
  end
end

% Compare one extraction with the C ABI's (prefix in refdir).
function compare(refdir, prefix, K, info, H, W, E, N, cls)
  S = 21;
  check(isa(K, cls) && isa(info.residual, cls) && isa(info.kernel_std, cls), [prefix ': class']);
  want = [S S];
  if E > 1
    want = [S S E];
  end
  check(isequal(size(K), want), sprintf('%s: size of K %s', prefix, mat2str(size(K))));
  close_to(K, rd(refdir, [prefix '_kernels'], [E S S]), [prefix ': kernels']);
  close_to(info.kernel_std, rd(refdir, [prefix '_kernel_std'], [E S S]), [prefix ': kernel_std']);
  close_to(info.positions, rd(refdir, [prefix '_positions'], [N 2]) + 1, [prefix ': positions']);
  close_to(info.amplitudes, rd(refdir, [prefix '_amplitudes'], [N E]), [prefix ': amplitudes']);
  close_to(info.residual, rd(refdir, [prefix '_residual'], [E H W]), [prefix ': residual']);
  close_to(info.heldout_r2_per_energy, rd(refdir, [prefix '_heldout'], [E 1]), [prefix ': heldout']);
  s = rd(refdir, [prefix '_scalars'], [1 6]);
  close_to([info.heldout_r2 info.fit_r2 info.symmetry info.kernel_size numel(info.types)], ...
           s([1 2 4 5 6]), [prefix ': scalars']);
  check(isequal(info.types, ones(N, 1)), [prefix ': types 1-based']);
  check(info.centre == 11, [prefix ': centre']);
end

function close_to(got, want, what)
  got = double(got);
  ok = isequal(size(got), size(want));
  err = NaN;
  if ok
    scale = max(abs(want(:)));
    err = max(abs(got(:) - want(:))) / max(scale, realmin);
    ok = err <= 1e-6 && isequal(isnan(got), isnan(want));
  end
  check(ok, sprintf('%s: sizes %s vs %s, relative error %g', what, mat2str(size(got)), ...
                    mat2str(size(want)), err));
end

function check(ok, what)
  global n_checks n_failed
  n_checks = n_checks + 1;
  if ~ok
    n_failed = n_failed + 1;
    printf('FAILED: %s\n', what);
  end
end

% A row-major float64 file of qpik shape `shape` as a MATLAB array: [R C] -> R x C,
% [E R C] -> R x C x E (images first, as the MEX functions return them).
function a = rd(refdir, name, shape)
  f = fopen(fullfile(refdir, [name '.bin']), 'r');
  if f < 0
    error('test:missing', 'missing reference file %s', name);
  end
  v = fread(f, Inf, 'double');
  fclose(f);
  if numel(shape) == 2
    a = reshape(v, shape(2), shape(1)).';
  else
    a = permute(reshape(v, shape(3), shape(2), shape(1)), [2 1 3]);
  end
end

% An H x W map of 16 isotropic ring defects (period 6 px, Gaussian envelope) at seeded
% random places 12 px or more from the edges, plus weak noise.
function bmap = ring_map(H, W)
  rand('state', 5);
  randn('state', 5);
  [cc, rr] = meshgrid(1:W, 1:H);
  bmap = 0.01 * randn(H, W);
  for i = 1:16
    r0 = 12 + rand() * (H - 24);
    c0 = 12 + rand() * (W - 24);
    d = sqrt((rr - r0) .^ 2 + (cc - c0) .^ 2);
    bmap = bmap + cos(2 * pi * d / 6) .* exp(-d .^ 2 / 50);
  end
end
