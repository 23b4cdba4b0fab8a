%QPIK_SIMULATE  Simulate QPI kernels and synthetic STM maps with qpik.
%   names = qpik_simulate('catalog')             cell array of the built-in kernel names
%   toml  = qpik_simulate('spec', name)          a catalog kernel's TOML spec (a template)
%   [K, info] = qpik_simulate('kernel', name, Name, Value, ...)
%   [K, info] = qpik_simulate('kernel', 'Spec', fileread('my.toml'), ...)
%   [Y, info] = qpik_simulate('observation', name, Name, Value, ...)   (or 'Spec', toml)
%
%   A kernel is the LDOS change around one impurity (states/eV/Angstrom^2), impurity at
%   pixel info.centre = [floor(rows/2)+1, floor(cols/2)+1]. An observation is the kernel
%   shifted to random defects, with amplitudes, plus the artefacts asked for.
%
%   Name-value pairs (case-insensitive):
%   'Spec'       TOML text of a kernel spec instead of a catalog name.
%   'Size'       kernel image size N or [rows cols] in pixels (default the spec's).
%   'PixelSize'  pixel size in metres (default the spec's).
%   'Rotation'   scan rotation in degrees, counter-clockwise.
%   'MapSize'    observation size N or [rows cols] (default 256).
%   'Seed'       random seed (default 0): the same seed gives the same map.
%   'Density'    defects per nm^2 (instead of a count).
%   'Count'      [min max] defects (default [1 20]).
%   'Artefacts'  'none' (default) or 'realistic' (noise, 1/f, line offsets, tip changes,
%                spikes, plane, drift).
%   'Options'    {key, value, ...}: any qpik option (defects.*, artefacts.*; see qpik.h).
%
%   info for a kernel: symmetry, pixel_size_m, rotation_deg, energy_ev, centre.
%   info for an observation: positions (N x 2, 1-based [row col], subpixel), amplitudes,
%   mask (logical, the pixel nearest each defect), kernel, pixel_size_m, kernel_info.
%
%   The last kernel is kept between calls (a loop of observations of one kernel
%   simulates it once) and freed when MATLAB exits. Errors: qpik:<STATUS> identifiers.
%   See also QPIK_EXTRACT.
