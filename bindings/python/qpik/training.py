"""Training models through the library."""

from __future__ import annotations

from . import _lib
from ._options import Options, cstr, path_arg
from ._progress import Progress


def train(what, data, out, progress=None, **options):
    """Train a model on a dataset file and write it to ``out`` (safetensors, written
    atomically after every epoch as a checkpoint).

    Args:
        what: "vae" (step 1, the kernel VAE), "align" (step 2; set ``train__vae`` to the
            VAE file; the result extracts) or "one-step" (the baseline; extracts).
        data: the dataset file (see :func:`generate_dataset`, :func:`write_dataset`).
        out: the model file to write.
        progress: ``callable(stage, done, total, message)`` called from this thread with
            the epoch, step and loss; returning True cancels (CancelledError; the last
            finished epoch's checkpoint stays and ``train__resume=True`` continues from
            it). An exception raised by it cancels the training and is re-raised here.
        **options: ``seed``, ``device`` ("cpu" or "cuda") and ``train__*``: epochs,
            steps_per_epoch, batch_size, learning_rate, weight_decay, warmup_steps,
            grad_clip, max_per_kernel, augment, channels (e.g. "8,16,32" or (8, 16, 32)),
            resume, vae. See :func:`options_help`.

    Load the result with :meth:`Model.from_file` (align and one-step models).
    """
    with Options(options) as opts:
        Progress(progress).run(
            _lib.lib().qpik_train, cstr(what, "what"), path_arg(data), path_arg(out), opts.handle
        )
