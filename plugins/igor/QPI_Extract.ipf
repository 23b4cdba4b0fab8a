#pragma TextEncoding = "UTF-8"
#pragma rtGlobals = 3
#pragma IgorVersion = 8.00
#pragma ModuleName = QPIK
#pragma version = 0.1

// qpik for Igor Pro: menu "QPI > Extract Kernel..." runs the qpik command-line program on
// the wave of a dI/dV map and loads the kernel it finds back into waves.
//
// Install: copy this file into "Igor Procedures" (loaded at start-up) or "User Procedures"
// (then #include "QPI_Extract"), and put the qpik program somewhere Igor can run it
// (menu "QPI > Set qpik Program..."; the default is qpik.exe on the PATH on Windows and
// /usr/local/bin/qpik on macOS). See docs/igor.md.
//
// Conventions (the file contract, tested in tests/igor/contract.py):
// - A 2-D map wave M[p][q] is qpik's image [row, col] with row = p, col = q (Igor's own
//   indices; Igor shows p along x). A 3-D wave M[p][q][r] is a stack of images along its
//   layers r (energies): qpik's [E, H, W] = [r, p, q].
// - The map goes to qpik as a .npy file written here: magic, version 1.0, a header dict
//   {'descr': ..., 'fortran_order': True, 'shape': (...), } padded with spaces to a multiple
//   of 64 bytes and ended by "\n", then the wave's own column-major bytes, little-endian,
//   in its own number type (float32/64, signed or unsigned 8/16/32/64-bit integers).
//   A 3-D wave is written as a copy with the energy axis first (shape (R, P, Q)).
//   Complex and text waves are refused.
// - Defects: a mask wave of the map's P x Q (each point above 0.5 is one defect), or a
//   positions wave [N][2] of (p, q) points (subpixel allowed); with none, qpik finds them
//   in the map itself.
// - Results go into the data folder root:QPI:<map name> (overwritten):
//     kernel[i][j] (or [i][j][e], [i][j][e][t] for stacks and several types): the kernel,
//     impurity at point (S/2, S/2) (integer division); SetScale puts x = y = 0 at the
//     impurity with the map's own point spacing and units, and the map's data unit.
//     kernel_std: its standard error, the same shape. positions[n][2]: (p, q) points
//     used (refined); positions_x, positions_y: the same in the map's scaled units (for
//     AppendToGraph on the image). amplitudes[n][e], types[n], residual and background
//     (the map's shape and scaling), heldout_r2[e], excluded[h][w] (1 where the blind
//     search left the pixel out: aborted lines, saturation, glitches, spikes, clusters,
//     step edges). The kernel's wave note holds heldout_r2, pixel_size_m, symmetry,
//     method (forward or blind), excluded_pixels, notes (what was chosen and why, what
//     was left out), control_heldout_r2 (a blind result's structureless control: Gaussian
//     blobs on as many defects, scored the same way; NaN otherwise), warning (when the kernel explains under 10 % of the held-out
//     variance), qpik_version, kernel_size, types, symmetry_name and defects as chosen,
//     input_name and input_sha256 (the map file qpik read), and the command run.
// - Igor 9 and later read the whole result (.h5) with the built-in HDF5 operations;
//   Igor 8 asks qpik for the kernels alone as .npy and reads them with QPIK_ReadNpy.

static StrConstant kPackage = "root:Packages:QPIK"
static StrConstant kResults = "root:QPI"
// Longest time one extraction may run (seconds) before Igor stops waiting.
static Constant kTimeoutS = 3600
// Largest header of a .npy file read back (numpy writes a few hundred bytes).
static Constant kMaxNpyHeader = 65536
// Most points of a wave sent to qpik (4 GiB of float64).
static Constant kMaxPoints = 536870912

Menu "QPI"
	"Extract Kernel...", /Q, QPIK#ExtractKernelDialog()
	"Set qpik Program...", /Q, QPIK#SetProgramDialog()
End

// ---------------------------------------------------------------------------------------
// The qpik program

// The qpik program's full path (a global string kept in root:Packages:QPIK).
Function/S QPIK_Program()
	SVAR/Z prog = $(kPackage + ":gProgram")
	if (SVAR_Exists(prog) && strlen(prog) > 0)
		return prog
	endif
	if (CmpStr(IgorInfo(2), "Windows") == 0)
		return "qpik.exe"
	endif
	return "/usr/local/bin/qpik"
End

// Sets the qpik program (a full native path, e.g. C:\Program Files\qpik\qpik.exe).
Function QPIK_SetProgram(String path)
	NewDataFolder/O root:Packages
	NewDataFolder/O $kPackage
	String/G $(kPackage + ":gProgram") = path
End

static Function SetProgramDialog()
	String path = QPIK_Program()
	Prompt path, "Full path of the qpik program"
	DoPrompt "QPI: qpik program", path
	if (V_Flag == 0)
		QPIK_SetProgram(path)
	endif
End

// ---------------------------------------------------------------------------------------
// .npy writing: the header this procedure writes itself

// The .npy dtype of an Igor number type (WaveType), "" for complex, text or unknown types.
Function/S QPIK_NpyDescr(Variable type)
	switch (type)
		case 0x02:
			return "<f4"
		case 0x04:
			return "<f8"
		case 0x08:
			return "|i1"
		case 0x48:
			return "|u1"
		case 0x10:
			return "<i2"
		case 0x50:
			return "<u2"
		case 0x20:
			return "<i4"
		case 0x60:
			return "<u4"
		case 0x80:
			return "<i8"
		case 0xC0:
			return "<u8"
	endswitch
	return ""
End

// The shape tuple of a wave's dimensions, Python style: "(5,)", "(4, 3)", "(2, 4, 3)".
Function/S QPIK_NpyShape(WAVE w)
	Variable n = WaveDims(w)
	if (n == 1)
		return "(" + num2istr(DimSize(w, 0)) + ",)"
	endif
	String s = "("
	Variable i
	for (i = 0; i < n; i += 1)
		s += SelectString(i == 0, ", ", "") + num2istr(DimSize(w, i))
	endfor
	return s + ")"
End

// The header dict, padded with spaces so that the 10 bytes before it and the dict and its
// final "\n" fill a multiple of 64 bytes.
Function/S QPIK_NpyHeader(WAVE w)
	String dict = "{'descr': '" + QPIK_NpyDescr(WaveType(w)) + "', 'fortran_order': True, 'shape': "
	dict += QPIK_NpyShape(w) + ", }"
	Variable used = 10 + strlen(dict) + 1
	Variable pad = mod(64 - mod(used, 64), 64)
	return PadString(dict, strlen(dict) + pad, 0x20) + "\n"
End

// Writes w (column-major, as Igor holds it) as a .npy file at the native or Igor path.
// Returns 0, or an error message.
Function/S QPIK_WriteNpy(WAVE w, String path)
	if (strlen(QPIK_NpyDescr(WaveType(w))) == 0)
		return "the wave " + NameOfWave(w) + " is complex, text or of an unknown number type: give a real numeric wave"
	endif
	if (numpnts(w) > kMaxPoints)
		return "the wave " + NameOfWave(w) + " has " + num2str(numpnts(w)) + " points, more than qpik's limit of " + num2str(kMaxPoints)
	endif
	String header = QPIK_NpyHeader(w)
	Variable refNum
	Open/Z refNum as path
	if (V_flag != 0)
		return "cannot write " + path + ": check that the folder exists and is writable"
	endif
	Variable byte = 0x93
	String magic = "NUMPY"
	FBinWrite/F=1/U refNum, byte
	FBinWrite refNum, magic
	byte = 1
	FBinWrite/F=1/U refNum, byte
	byte = 0
	FBinWrite/F=1/U refNum, byte
	Variable headerLen = strlen(header)
	FBinWrite/B=3/F=2/U refNum, headerLen
	FBinWrite refNum, header
	FBinWrite/B=3 refNum, w
	Close refNum
	return "0"
End

// The map as qpik's [E, H, W]: a 2-D wave as it is, a 3-D wave copied with its layers
// (energies) first.
Function/WAVE QPIK_MapForNpy(WAVE map)
	if (WaveDims(map) != 3)
		return map
	endif
	Make/FREE/Y=(WaveType(map))/N=(DimSize(map, 2), DimSize(map, 0), DimSize(map, 1)) stack
	stack = map[q][r][p]
	return stack
End

// ---------------------------------------------------------------------------------------
// .npy reading (the Igor 8 route: qpik writes the kernels as C-order .npy)

// The value of key in a .npy header dict ("descr", "fortran_order", "shape").
static Function/S NpyField(String dict, String key)
	Variable at = strsearch(dict, "'" + key + "':", 0)
	if (at < 0)
		return ""
	endif
	String rest = dict[at + strlen(key) + 3, inf]
	if (CmpStr(key, "shape") == 0)
		Variable closeAt = strsearch(rest, ")", 0)
		return rest[strsearch(rest, "(", 0) + 1, closeAt - 1]
	endif
	String value
	SplitString/E="^\\s*'?([^',}]*)" rest, value
	return value
End

// Reads a float32/float64 .npy file of 1 to 4 dimensions into a new wave named name in
// the current data folder, logical index order kept: element (i, j, ...) of the array is
// w[i][j]... whatever its memory order. Returns "0" or an error message.
Function/S QPIK_ReadNpy(String path, String name)
	Variable refNum
	Open/R/Z refNum as path
	if (V_flag != 0)
		return "cannot open " + path
	endif
	Variable b0, major, minor, headerLen
	FBinRead/F=1/U refNum, b0
	String magic = PadString("", 5, 0x20)
	FBinRead refNum, magic
	FBinRead/F=1/U refNum, major
	FBinRead/F=1/U refNum, minor
	if (b0 != 0x93 || CmpStr(magic, "NUMPY") != 0 || major < 1 || major > 3)
		Close refNum
		return path + " is not a .npy file of version 1 to 3"
	endif
	if (major == 1)
		FBinRead/B=3/F=2/U refNum, headerLen
	else
		FBinRead/B=3/F=3/U refNum, headerLen
	endif
	if (headerLen <= 0 || headerLen > kMaxNpyHeader)
		Close refNum
		return path + ": header of " + num2str(headerLen) + " bytes (at most " + num2str(kMaxNpyHeader) + ")"
	endif
	String dict = PadString("", headerLen, 0x20)
	FBinRead refNum, dict
	String descr = NpyField(dict, "descr")
	Variable fortran = CmpStr(NpyField(dict, "fortran_order"), "True") == 0
	String shape = NpyField(dict, "shape")
	Variable type
	strswitch (descr)
		case "<f4":
			type = 0x02
			break
		case "<f8":
			type = 0x04
			break
		default:
			Close refNum
			return path + ": element type " + descr + " (qpik writes <f4 or <f8)"
	endswitch
	Make/FREE/N=4 dims = 0
	Variable n = ItemsInList(shape, ","), i, total = 1
	if (n < 1 || n > 4)
		Close refNum
		return path + ": " + num2str(n) + " dimensions (1 to 4 are read)"
	endif
	for (i = 0; i < n; i += 1)
		dims[i] = str2num(StringFromList(i, shape, ","))
		if (numtype(dims[i]) != 0 || dims[i] < 1)
			Close refNum
			return path + ": bad shape (" + shape + ")"
		endif
		total *= dims[i]
	endfor
	if (total > kMaxPoints)
		Close refNum
		return path + ": " + num2str(total) + " elements, more than " + num2str(kMaxPoints)
	endif
	// Memory order: Fortran files hold Igor's own layout; C files the reversed one.
	Make/FREE/N=4 mem = 0
	for (i = 0; i < n; i += 1)
		mem[i] = fortran ? dims[i] : dims[n - 1 - i]
	endfor
	Make/O/Y=(type)/N=(mem[0], mem[1], mem[2], mem[3]) $name
	WAVE raw = $name
	FBinRead/B=3 refNum, raw
	Close refNum
	if (fortran || n == 1)
		return "0"
	endif
	Duplicate/FREE raw, flat
	Make/O/Y=(type)/N=(dims[0], dims[1], dims[2], dims[3]) $name
	WAVE out = $name
	switch (n)
		case 2:
			out = flat[q][p]
			break
		case 3:
			out = flat[r][q][p]
			break
		case 4:
			out = flat[s][r][q][p]
			break
	endswitch
	return "0"
End

// ---------------------------------------------------------------------------------------
// Running qpik

// The native form of an Igor path (colons) for the command line.
static Function/S NativePath(String igorPath)
	if (CmpStr(IgorInfo(2), "Windows") == 0)
		return ParseFilePath(5, igorPath, "\\", 0, 0)
	endif
	return ParseFilePath(5, igorPath, "/", 0, 0)
End

// Metres per unit of a wave's x unit, NaN when it is not a length.
Function QPIK_MetresPerUnit(String unit)
	strswitch (unit)
		case "m":
			return 1
		case "mm":
			return 1e-3
		case "um":
		case "µm":
			return 1e-6
		case "nm":
			return 1e-9
		case "A":
		case "Å":
		case "Angstrom":
			return 1e-10
		case "pm":
			return 1e-12
	endswitch
	return NaN
End

// The qpik command line (arguments quoted, native paths), without redirection.
Function/S QPIK_CommandLine(String program, String mapPath, String defectsFlag, String defectsPath, Variable kernelSize, String symmetry, Variable types, Variable blind, Variable pixelSizeM, String outPath)
	String px
	String cmd = "\"" + program + "\" extract \"" + mapPath + "\""
	if (strlen(defectsFlag) > 0)
		cmd += " " + defectsFlag + " \"" + defectsPath + "\""
	endif
	if (kernelSize > 0)
		cmd += " --kernel-size " + num2istr(kernelSize)
	endif
	cmd += " --symmetry " + symmetry
	if (types != 1)
		cmd += " --types " + SelectString(types > 0, "auto", num2istr(types))
	endif
	if (blind)
		cmd += " --blind"
	endif
	if (numtype(pixelSizeM) == 0 && pixelSizeM > 0)
		sprintf px, "%.10g", pixelSizeM
		cmd += " --pixel-size-m " + px
	endif
	cmd += " -o \"" + outPath + "\" --json"
	return cmd
End

// The script that runs the command: its output into log, its exit status into status.
Function/S QPIK_Script(String cmd, String logPath, String statusPath, Variable windows)
	if (windows)
		return "@echo off\r\n" + cmd + " > \"" + logPath + "\" 2>&1\r\necho %ERRORLEVEL% > \"" + statusPath + "\"\r\n"
	endif
	return "#!/bin/sh\n" + cmd + " > \"" + logPath + "\" 2>&1\necho $? > \"" + statusPath + "\"\n"
End

static Function/S ReadText(String path)
	Variable refNum
	Open/R/Z refNum as path
	if (V_flag != 0)
		return ""
	endif
	FStatus refNum
	Variable size = min(V_logEOF, 1e6)
	String text = PadString("", size, 0x20)
	if (size > 0)
		FBinRead refNum, text
	endif
	Close refNum
	return text
End

static Function/S WriteText(String path, String text)
	Variable refNum
	Open/Z refNum as path
	if (V_flag != 0)
		return "cannot write " + path
	endif
	FBinWrite refNum, text
	Close refNum
	return "0"
End

// Runs the script file and returns "0" or the program's own output as the error message.
static Function/S RunScript(String scriptPath, String logPath, String statusPath)
	if (CmpStr(IgorInfo(2), "Windows") == 0)
		ExecuteScriptText/B/W=(kTimeoutS)/Z "cmd.exe /C \"\"" + scriptPath + "\"\""
	else
		ExecuteScriptText/UNQ/Z "do shell script \"/bin/sh '" + scriptPath + "'\""
	endif
	String status = ReadText(statusPath)
	if (strlen(status) == 0)
		return "qpik did not run (no exit status): check the program path (QPI > Set qpik Program...)"
	endif
	if (str2num(status) != 0)
		return "qpik failed (exit status " + status + "): " + ReadText(logPath)
	endif
	return "0"
End

// ---------------------------------------------------------------------------------------
// Reading the result back

// Sets x and y of a kernel wave to 0 at the impurity with the map's spacing and units.
Function QPIK_ScaleKernel(WAVE k, WAVE map)
	Variable s = DimSize(k, 0)
	Variable half = floor(s / 2)
	SetScale/P x, -half * DimDelta(map, 0), DimDelta(map, 0), WaveUnits(map, 0), k
	SetScale/P y, -half * DimDelta(map, 1), DimDelta(map, 1), WaveUnits(map, 1), k
	if (WaveDims(map) == 3 && WaveDims(k) >= 3)
		SetScale/P z, DimOffset(map, 2), DimDelta(map, 2), WaveUnits(map, 2), k
	endif
	SetScale d, 0, 0, WaveUnits(map, -1), k
End

// The size of dimension i, 1 for a missing one.
static Function Dim(WAVE w, Variable i)
	return max(1, DimSize(w, i))
End

#if IgorVersion() >= 9
// A dataset loaded from the result file, as a free wave (Igor 9+).
static Function/WAVE LoadDataset(Variable fileID, String name)
	HDF5LoadData/O/Q/Z/N=qpik_tmp fileID, name
	if (V_flag != 0)
		return $""
	endif
	WAVE w = qpik_tmp
	Duplicate/FREE w, copy
	KillWaves/Z w
	return copy
End

// A root attribute of the result file as a number (NaN when missing).
static Function LoadNumberAttribute(Variable fileID, String name)
	HDF5LoadData/A=name/TYPE=1/O/Q/Z/N=qpik_tmp fileID, "/"
	if (V_flag != 0)
		return NaN
	endif
	WAVE w = qpik_tmp
	Variable v = w[0]
	KillWaves/Z w
	return v
End

// A root string attribute of the result file ("" when missing); ';' and ':' become ',' so
// that it fits a key=value; wave note.
static Function/S LoadStringAttribute(Variable fileID, String name)
	HDF5LoadData/A=name/TYPE=1/O/Q/Z/N=qpik_tmp fileID, "/"
	if (V_flag != 0)
		return ""
	endif
	WAVE/T t = qpik_tmp
	String v = ReplaceString(":", ReplaceString(";", t[0], ","), ",")
	KillWaves/Z t
	return v
End
#endif

// Igor's order of a loaded C-order dataset: the HDF5 dimensions in order (1) or reversed
// with the memory as stored (0). Decided on the kernels, [T, E, S, S] in the file.
static Function KeptOrder(WAVE kernels, Variable energies)
	if (Dim(kernels, 1) == energies && Dim(kernels, 2) == Dim(kernels, 3))
		return 1
	endif
	return 0
End

// Loads the qpik-extraction file into the current data folder (Igor 9+; see the header).
// Returns "0" or an error message.
static Function/S LoadResultH5(String path, WAVE map)
#if IgorVersion() >= 9
	Variable fileID
	HDF5OpenFile/R/Z fileID as path
	if (V_flag != 0)
		return "cannot open the result " + path
	endif
	Variable e = WaveDims(map) == 3 ? DimSize(map, 2) : 1
	Variable h = DimSize(map, 0), w = DimSize(map, 1)
	WAVE/Z kr = LoadDataset(fileID, "kernels")
	WAVE/Z sr = LoadDataset(fileID, "kernel_std")
	WAVE/Z pr = LoadDataset(fileID, "positions")
	WAVE/Z ar = LoadDataset(fileID, "amplitudes")
	WAVE/Z tr = LoadDataset(fileID, "types")
	WAVE/Z rr = LoadDataset(fileID, "residual")
	WAVE/Z br = LoadDataset(fileID, "background")
	WAVE/Z xr = LoadDataset(fileID, "excluded")
	String method = LoadStringAttribute(fileID, "method")
	String notes = LoadStringAttribute(fileID, "notes")
	Variable heldout = LoadNumberAttribute(fileID, "heldout_r2")
	// A blind result's structureless control (NaN for forward results and older files).
	Variable control = LoadNumberAttribute(fileID, "control_heldout_r2")
	Variable pixel = LoadNumberAttribute(fileID, "pixel_size_m")
	Variable symmetry = LoadNumberAttribute(fileID, "symmetry")
	// Provenance and the settings as chosen (empty or NaN in files of older qpik versions).
	String version = LoadStringAttribute(fileID, "qpik_version")
	String symmetryName = LoadStringAttribute(fileID, "symmetry_name")
	String inputName = LoadStringAttribute(fileID, "input_name")
	String inputSha = LoadStringAttribute(fileID, "input_sha256")
	Variable chosenSize = LoadNumberAttribute(fileID, "kernel_size")
	Variable chosenTypes = LoadNumberAttribute(fileID, "types")
	Variable defectCount = LoadNumberAttribute(fileID, "defects")
	HDF5LoadData/A="heldout_r2_per_energy"/TYPE=1/O/Q/Z/N=heldout_r2 fileID, "/"
	HDF5LoadData/A="fit_r2"/TYPE=1/O/Q/Z/N=fit_r2 fileID, "/"
	HDF5CloseFile fileID
	if (!WaveExists(kr) || !WaveExists(sr) || !WaveExists(pr) || !WaveExists(ar) || !WaveExists(tr) || !WaveExists(rr))
		return path + " is not a complete qpik-extraction file"
	endif
	Variable kept = KeptOrder(kr, e)
	Variable t = kept ? Dim(kr, 0) : Dim(kr, 3)
	Variable ks = kept ? Dim(kr, 3) : Dim(kr, 0)
	Variable n = numpnts(tr)
	// kernels [T, E, S, S] -> kernel[i][j][e][t]
	Make/O/N=(ks, ks, e, t) kernel, kernel_std
	if (kept)
		kernel = kr[s][r][p][q]
		kernel_std = sr[s][r][p][q]
	else
		kernel = kr[q][p][r][s]
		kernel_std = sr[q][p][r][s]
	endif
	Redimension/N=(ks, ks, e == 1 && t == 1 ? 0 : e, t == 1 ? 0 : t) kernel, kernel_std
	// positions [N, 2] -> positions[n][2]; amplitudes [N, E] -> amplitudes[n][e]
	Make/O/N=(n, 2) positions
	Make/O/N=(n, e) amplitudes
	if (kept)
		positions = pr[p][q]
		amplitudes = ar[p][q]
	else
		positions = pr[q][p]
		amplitudes = ar[q][p]
	endif
	Duplicate/O tr, types
	// residual, background [E, H, W] -> [h][w][e] with the map's scaling
	Make/O/N=(h, w, e) residual, background
	if (kept)
		residual = rr[r][p][q]
		background = br[r][p][q]
	else
		residual = rr[q][p][r]
		background = br[q][p][r]
	endif
	if (e == 1)
		Redimension/N=(h, w) residual, background
	endif
	// excluded [H, W] -> excluded[h][w]: 1 where the blind search left the pixel out
	Make/O/B/U/N=(h, w) excluded = 0
	if (WaveExists(xr))
		if (kept)
			excluded = xr[p][q]
		else
			excluded = xr[q][p]
		endif
	endif
	CopyScales map, residual, background
	CopyScales/P map, excluded
	Note/K kernel, "heldout_r2=" + num2str(heldout) + ";pixel_size_m=" + num2str(pixel) + ";symmetry=" + num2str(symmetry) + ";"
	Note/NOCR kernel, "method=" + method + ";excluded_pixels=" + num2str(sum(excluded)) + ";notes=" + notes + ";"
	Note/NOCR kernel, "control_heldout_r2=" + num2str(control) + ";"
	Note/NOCR kernel, "qpik_version=" + version + ";kernel_size=" + num2str(chosenSize) + ";types=" + num2str(chosenTypes) + ";symmetry_name=" + symmetryName + ";defects=" + num2str(defectCount) + ";input_name=" + inputName + ";input_sha256=" + inputSha + ";"
	if (heldout < 0.1 || numtype(heldout) != 0)
		Note/NOCR kernel, "warning=the kernel explains under 10 % of the held-out variance;"
		Print "qpik: warning: the kernel explains little of the map (held-out R^2 " + num2str(heldout) + " < 0.1)"
	endif
	return "0"
#else
	return "reading .h5 results needs Igor Pro 9 or later"
#endif
End

// ---------------------------------------------------------------------------------------
// The extraction

// Extracts the kernel of map (2-D, or 3-D with energies as layers) with qpik. defects:
// a mask of the map's P x Q, positions [N][2] of (p, q) points, or a null wave (qpik finds
// them in the map). kernelSize: pixels, 0 = auto. symmetry: "auto", "none", "isotropic",
// "2", "3", "4" or "6". types: 1 (default), 2..8, or 0 for auto; blind: 1 to look for more
// defects than given (both need a qpik with multi-type extraction).
// Returns the data folder of the results, or "" after printing the error.
Function/S QPIK_ExtractKernel(WAVE map, WAVE/Z defects, Variable kernelSize, String symmetry, [Variable types, Variable blind])
	types = ParamIsDefault(types) ? 1 : types
	blind = ParamIsDefault(blind) ? 0 : blind
	String err = QPIK_Run(map, defects, kernelSize, symmetry, types, blind)
	if (CmpStr(err, "0") != 0)
		DoAlert/T="QPI: Extract Kernel" 0, err
		print "QPI: " + err
		return ""
	endif
	return kResults + ":" + PossiblyQuoteName(NameOfWave(map))
End

static Function/S QPIK_Run(WAVE map, WAVE/Z defects, Variable kernelSize, String symmetry, Variable types, Variable blind)
	if (WaveDims(map) < 2 || WaveDims(map) > 3)
		return "the map must be a 2-D image or a 3-D stack (energies as layers)"
	endif
	if (strlen(QPIK_NpyDescr(WaveType(map))) == 0)
		return "the map must be a real numeric wave"
	endif
	String windows = SelectString(CmpStr(IgorInfo(2), "Windows") == 0, "", "1")
	String dir = SpecialDirPath("Temporary", 0, 0, 0) + "qpik_igor_" + num2istr(ticks) + ":"
	NewPath/C/O/Q/Z qpikTmp, dir
	if (V_flag != 0)
		return "cannot make the temporary folder " + dir
	endif
	String err = QPIK_WriteNpy(QPIK_MapForNpy(map), dir + "map.npy")
	if (CmpStr(err, "0") != 0)
		return err
	endif
	String defectsFlag = ""
	if (WaveExists(defects))
		if (WaveDims(defects) == 2 && DimSize(defects, 1) == 2 && DimSize(defects, 0) != DimSize(map, 0))
			defectsFlag = "--positions"
		elseif (DimSize(defects, 0) == DimSize(map, 0) && DimSize(defects, 1) == DimSize(map, 1))
			defectsFlag = "--mask"
		else
			return "the defects wave must be a mask of the map's " + num2istr(DimSize(map, 0)) + " x " + num2istr(DimSize(map, 1)) + " points or positions [N][2]"
		endif
		err = QPIK_WriteNpy(defects, dir + "defects.npy")
		if (CmpStr(err, "0") != 0)
			return err
		endif
	endif
	Variable h5 = IgorVersion() >= 9
	String out = dir + SelectString(h5, "kernel.npy", "result.h5")
	Variable pixel = DimDelta(map, 0) * QPIK_MetresPerUnit(WaveUnits(map, 0))
	String cmd = QPIK_CommandLine(QPIK_Program(), NativePath(dir + "map.npy"), defectsFlag, NativePath(dir + "defects.npy"), kernelSize, symmetry, types, blind, pixel, NativePath(out))
	String script = dir + SelectString(strlen(windows), "run.sh", "run.cmd")
	err = WriteText(script, QPIK_Script(cmd, NativePath(dir + "log.txt"), NativePath(dir + "status.txt"), strlen(windows)))
	if (CmpStr(err, "0") != 0)
		return err
	endif
	err = RunScript(NativePath(script), dir + "log.txt", dir + "status.txt")
	if (CmpStr(err, "0") != 0)
		return err
	endif
	NewDataFolder/O root:QPI
	String folder = kResults + ":" + PossiblyQuoteName(NameOfWave(map))
	NewDataFolder/O $folder
	DFREF saved = GetDataFolderDFR()
	SetDataFolder $folder
	if (h5)
		err = LoadResultH5(out, map)
	else
		err = QPIK_ReadNpy(out, "kernel")
	endif
	if (CmpStr(err, "0") == 0)
		WAVE kernel
		QPIK_ScaleKernel(kernel, map)
		Note kernel, "command=" + cmd
		WAVE/Z kernel_std, positions
		if (WaveExists(kernel_std))
			QPIK_ScaleKernel(kernel_std, map)
		endif
		if (WaveExists(positions))
			Make/O/N=(DimSize(positions, 0)) positions_x, positions_y
			positions_x = DimOffset(map, 0) + positions[p][0] * DimDelta(map, 0)
			positions_y = DimOffset(map, 1) + positions[p][1] * DimDelta(map, 1)
			SetScale d, 0, 0, WaveUnits(map, 0), positions_x
			SetScale d, 0, 0, WaveUnits(map, 1), positions_y
		endif
		print "QPI: kernel of " + NameOfWave(map) + " in " + folder + "; " + ReadText(dir + "log.txt")
	endif
	SetDataFolder saved
	return err
End

static Function ExtractKernelDialog()
	String maps = WaveList("*", ";", "DIMS:2,CMPLX:0,TEXT:0") + WaveList("*", ";", "DIMS:3,CMPLX:0,TEXT:0")
	if (strlen(maps) == 0)
		DoAlert/T="QPI: Extract Kernel" 0, "No 2-D or 3-D numeric wave in the current data folder"
		return -1
	endif
	String mapName = StringFromList(0, maps)
	String defectsName = "_from the map_"
	Variable kernelSize = 0
	String symmetry = "auto"
	Variable types = 1
	Prompt mapName, "dI/dV map (2-D, or 3-D with energies as layers)", popup, maps
	Prompt defectsName, "Defects (mask, or positions [N][2])", popup, "_from the map_;" + WaveList("*", ";", "DIMS:2,CMPLX:0,TEXT:0")
	Prompt kernelSize, "Kernel size in points (0 = auto)"
	Prompt symmetry, "Symmetry", popup, "auto;none;isotropic;2;3;4;6"
	Prompt types, "Defect types (1-8; 0 = auto)"
	DoPrompt "QPI: Extract Kernel", mapName, defectsName, kernelSize, symmetry, types
	if (V_Flag)
		return -1
	endif
	WAVE map = $mapName
	String chosen = SelectString(CmpStr(defectsName, "_from the map_") == 0, defectsName, "")
	WAVE/Z defects = $chosen
	String folder = QPIK_ExtractKernel(map, defects, kernelSize, symmetry, types = types)
	if (strlen(folder) > 0)
		WAVE kernel = $(folder + ":kernel")
		NewImage/K=1 kernel
	endif
End
