function [img, meta] = qpik_read_sxm(file, channel, direction)
%QPIK_READ_SXM  One channel of a Nanonis .sxm scan, as qpik reads it.
%   [img, meta] = qpik_read_sxm(file, channel)             forward direction
%   [img, meta] = qpik_read_sxm(file, channel, 'backward')
%
%   img is rows x cols (double), row 1 at the top of the scan frame, columns left to right,
%   whatever the scan direction (backward lines and upward scans are mirrored back), in the
%   channel's unit; NaN where the scan did not reach. meta: unit, pixel_size_m (the scan
%   range over the pixels, rows), range_m [x y], channels (the names in the file).
%   Plain MATLAB/Octave: no MEX needed. qpik's own reader is src/data/sxm.rs.
  if nargin < 3
    direction = 'forward';
  end
  if ~any(strcmpi(direction, {'forward', 'backward'}))
    error('qpik:QPIK_ERR_INVALID_ARGUMENT', 'direction must be ''forward'' or ''backward''');
  end
  if exist(file, 'file') ~= 2
    error('qpik:QPIK_ERR_IO', '%s is not a file', file);
  end
  f = fopen(file, 'r');
  if f < 0
    error('qpik:QPIK_ERR_IO', 'cannot open %s', file);
  end
  cleanup = onCleanup(@() fclose(f));
  bytes = fread(f, Inf, 'uint8=>uint8').';
  stop = strfind(char(bytes(1:min(end, 1e6))), ':SCANIT_END:');
  if isempty(stop)
    error('qpik:QPIK_ERR_FORMAT', '%s: no '':SCANIT_END:'' (not a Nanonis .sxm file?)', file);
  end
  header = char(bytes(1:stop(1) - 1));
  marker = strfind(char(bytes(stop(1):min(end, stop(1) + 4096))), char([26 4]));
  if isempty(marker)
    error('qpik:QPIK_ERR_FORMAT', '%s: no data after the header', file);
  end
  data = bytes(stop(1) + marker(1) + 1:end);
  pixels = sscanf(field(header, 'SCAN_PIXELS'), '%f');
  range = sscanf(field(header, 'SCAN_RANGE'), '%f');
  cols = pixels(1); rows = pixels(2);
  up = strcmpi(strtrim(field(header, 'SCAN_DIR')), 'up');
  big = isempty(strfind(field(header, 'SCANIT_TYPE'), 'LSBFIRST'));
  lines = strsplit(strtrim(field(header, 'DATA_INFO')), sprintf('\n'));
  names = {};
  at = 0; found = -1; unit = '';
  for i = 2:numel(lines)
    c = strsplit(strtrim(lines{i}), sprintf('\t'));
    if numel(c) < 4
      continue;
    end
    names{end + 1} = c{2}; %#ok<AGROW>
    dirs = {'forward'};
    if strcmpi(c{4}, 'both')
      dirs = {'forward', 'backward'};
    elseif strcmpi(c{4}, 'backward')
      dirs = {'backward'};
    end
    for d = 1:numel(dirs)
      if strcmp(c{2}, channel) && strcmpi(dirs{d}, direction)
        found = at; unit = c{3};
      end
      at = at + 1;
    end
  end
  if found < 0
    error('qpik:QPIK_ERR_NOT_FOUND', '%s has no %s image of channel ''%s''; it has: %s', ...
          file, direction, channel, strjoin(names, ', '));
  end
  n = rows * cols * 4;
  if numel(data) < (found + 1) * n
    error('qpik:QPIK_ERR_FORMAT', '%s: the data are truncated', file);
  end
  raw = typecast(data(found * n + 1:(found + 1) * n), 'single');
  [~, ~, endian] = computer;
  if big == (endian == 'L')
    raw = swapbytes(raw);
  end
  img = double(reshape(raw, cols, rows).');    % stored line by line, in the tip's order
  if strcmpi(direction, 'backward')
    img = fliplr(img);
  end
  if up
    img = flipud(img);
  end
  meta = struct('unit', unit, 'pixel_size_m', range(1) / cols, 'range_m', range(:).', ...
                'channels', {names});
end

function v = field(header, key)
  k = strfind(header, [':' key ':']);
  if isempty(k)
    error('qpik:QPIK_ERR_FORMAT', 'the header has no '':%s:'' field', key);
  end
  rest = header(k(1) + numel(key) + 2:end);
  next = regexp(rest, '\n:[A-Z_>a-z0-9 ]+:', 'once');
  if isempty(next)
    next = numel(rest) + 1;
  end
  v = rest(1:next - 1);
end
