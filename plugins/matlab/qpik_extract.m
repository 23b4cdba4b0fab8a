%QPIK_EXTRACT  Extract the QPI kernel of a dI/dV map (qpik's map engine).
%   [K, info] = qpik_extract(map, Name, Value, ...)
%
%   Fits map = sum_i a_i K(r - r_i) + background + noise by least squares and returns the
%   kernel K: S x S for a map, S x S x E for a stack, S x S x E x T for T defect types.
%   The impurity sits at pixel (info.centre, info.centre) = (floor(S/2)+1, floor(S/2)+1);
%   K is in the map's unit (the amplitudes have mean 1 per type and energy).
%
%   map   H x W, or H x W x E (an energy stack sharing the defects); double or single,
%         real. Passed to qpik without a copy. NaN marks missing pixels (left out).
%         K, info.residual and info.kernel_std have the map's class.
%
%   Name-value pairs (case-insensitive):
%   'Defects'     H x W mask (logical, uint8, double or single; each pixel above 0.5 is a
%                 defect) or N x 2 positions [row col] in pixels, 1-based, subpixel allowed.
%   'Topography'  H x W topography (double or single) of the same area: defects are found
%                 in it (levelled, band-passed, 5 robust sigmas; sized for 6 Angstrom
%                 defects when 'PixelSize' is given, else 4 pixels), as qpik extract
%                 --defects-from does. Not together with 'Defects'.
%   'Polarity'    'bright' (default), 'dark' or 'auto': which defects 'Topography' shows.
%   'Blind'       true: search the map for more defects than those given (with no
%                 'Defects' or 'Topography': find them all from the map).
%   'Types'       number of defect types 1..8, or 'auto' (default 1).
%   'KernelSize'  S, odd pixels (an even size is refused, naming the odd sizes beside
%                 it), or 'auto' (default: 1.5 x the mean defect spacing).
%   'Symmetry'    'auto' (default: each tried on held-out data, the most constrained
%                 as good as the best kept), 'none', 1 (isotropic), 2, 3, 4 or 6:
%                 projects K onto that rotation group;
%                 'm', '2mm', '3m', '4mm', '6mm': also onto mirror lines through the
%                 impurity, whose angle is found from the kernel (info.mirror_axis_deg:
%                 0 along a row, 90 along a column, positive clockwise on screen; NaN
%                 without mirrors).
%   'PixelSize'   the map's pixel size in METRES, qpik's one unit (e.g. 8.93e-11), 1e-12
%                 to 1e-6: a value outside is refused with a hint ('PixelSize', 0.893 ->
%                 "did you mean 0.893 Angstrom (8.93e-11 m)?"). Reported in
%                 info.pixel_size_m.
%   'Background'  'constant', 'plane' (default) or 'plane-and-lines'.
%   'Smoothness'  'auto' (default, chosen on held-out data) or a weight.
%   'Decay'       'auto' (default, chosen on held-out data) or a weight W: a penalty
%                 W (r/R)^2 K(r)^2 drawing the kernel to 0 away from the impurity.
%   'Bootstrap'   replicates of the block bootstrap for info.kernel_std (default 8).
%   'RefinePositions'  how far positions may move, pixels (default 1.5; 0 keeps them).
%   'Seed'        seed of the held-out split and the bootstrap (results are reproducible).
%   'Energies'    E energies in eV, one per layer.
%   'Unit'        the map's unit, for the record.
%   'Options'     {key, value, ...}: any qpik option (qpik_options_describe in qpik.h).
%
%   info fields: positions (N x 2, 1-based, refined), amplitudes (N x E), types (N x 1,
%   1..T), residual (H x W x E: map minus model), kernel_std (like K: standard error per
%   pixel), heldout_r2 (the fraction of the map's variance the kernel explains on pixels
%   it was not fitted to; near 0 the kernel means nothing), heldout_r2_per_energy,
%   fit_r2, pixel_size_m (NaN when unknown), symmetry (0 none, 1 isotropic, n-fold),
%   kernel_size, centre, num_types, energies, positions_estimated, defects_source
%   ('mask', 'positions', 'topography', 'blind' or 'estimated'), and what the run chose:
%     method           'forward' (every defect given) or 'blind' (the search found them,
%                      or added types to the given ones: no 'Defects' nor 'Topography',
%                      or 'Blind' true).
%     notes            what was chosen automatically and why (kernel size, types,
%                      symmetry, lattice removal) and what was left out; '' if nothing.
%     excluded         H x W logical: true where a measured pixel was left out as
%                      something no kernel explains (aborted or constant scan lines,
%                      saturated plateaus, glitch rows, spikes, clusters, step edges);
%                      all false for 'forward'.
%     excluded_pixels  nnz(info.excluded).
%     qpik_version     the qpik library version that made the result.
%     symmetry_name    the point group as chosen: 'none', 'isotropic', '2'..'6', 'm',
%                      '2mm', '3m', '4mm' or '6mm'.
%     defects          N, the number of defects used.
%     explains_little  true when the kernel explains under 10 % of the held-out variance
%                      (heldout_r2 < 0.1): it probably means nothing. A warning
%                      qpik:explainsLittle is issued then.
%     control_heldout_r2  a blind result's structureless control: the held-out R^2 that
%                      Gaussian blobs on as many defects reach, trained and scored the
%                      same way; a heldout_r2 no higher means the kernel shows nothing
%                      beyond a bump. NaN for 'forward'.
%
%   Errors have identifiers qpik:<STATUS>, the qpik status names: qpik:QPIK_ERR_SHAPE,
%   qpik:QPIK_ERR_DTYPE, qpik:QPIK_ERR_NOT_FINITE, qpik:QPIK_ERR_INVALID_ARGUMENT,
%   qpik:QPIK_ERR_UNKNOWN_OPTION, qpik:QPIK_ERR_OPTION_VALUE, ...
%
%   Example (a simulated map with its mask):
%     [Y, truth] = qpik_simulate('observation', 'graphene-500meV', 'MapSize', 128, 'Seed', 1);
%     [K, info] = qpik_extract(Y, 'Defects', truth.mask, 'KernelSize', 49);
%     imagesc(K); axis image; title(sprintf('held-out R^2 %.2f', info.heldout_r2));
%
%   The MEX file contains libqpik (and HDF5) itself and needs no other library.
%   See also QPIK_SIMULATE, docs/matlab.md.
