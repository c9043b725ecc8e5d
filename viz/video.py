"""Encode RGB frames as an animated GIF (Pillow) or an H.264 MP4 (imageio-ffmpeg's ffmpeg).

Qt-free: frames are ``H×W×3`` (or ``×4``, alpha dropped) ``uint8`` numpy arrays or PIL images.
The GIF gets an adaptive 256-colour palette per frame, per-frame durations that add up to the
frame clock exactly (GIF counts in 1/100 s) and loops forever; identical consecutive frames are
merged into one longer frame. The MP4 is H.264 in yuv420p with even dimensions (odd frames are
padded by one edge pixel). :func:`encode` runs synchronously with a progress callback and
cancellation; :class:`BackgroundEncoder` runs the same on a thread so that a GUI only hands it
frames.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

FORMATS = ("gif", "mp4")
GIF_MAX_FPS = 50.0   # GIF delays are whole 1/100 s; below 2/100 s browsers slow frames down
MP4_MAX_FPS = 120.0

Progress = Callable[[int, int], None]


class EncodeCancelled(Exception):
    """The encode was cancelled; the partial file has been removed."""


class _Kill(BaseException):
    """Thrown into imageio-ffmpeg's writer so that it kills ffmpeg instead of finishing."""


def video_format(path: str | Path, fmt: str | None = None) -> str:
    """'gif' or 'mp4', from fmt or the file suffix."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot encode {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def to_rgb(frame: Any) -> np.ndarray:
    """A frame as a C-contiguous H×W×3 uint8 array (PIL image, RGB or RGBA array)."""
    if hasattr(frame, "convert") and hasattr(frame, "size"):
        frame = np.asarray(frame.convert("RGB"))
    arr = np.asarray(frame)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"a frame must be H×W×3 uint8, got {arr.shape} {arr.dtype}")
    return np.ascontiguousarray(arr[:, :, :3])


def gif_durations(n: int, fps: float) -> list[int]:
    """Per-frame delays in ms (multiples of 10) whose running sum tracks frame i at i/fps."""
    ends = [10 * round((i + 1) * 100.0 / fps) for i in range(n)]
    return [b - a for a, b in zip([0, *ends], ends, strict=False)]


def _check_fps(fps: float, limit: float) -> float:
    if not 0 < fps <= limit:
        raise ValueError(f"fps must be in (0, {limit:g}], got {fps}")
    return float(fps)


class FrameWriter(Protocol):
    """An open output file that takes frames one by one."""

    frames: int

    def add(self, frame: Any) -> None: ...
    def close(self) -> Path: ...
    def abort(self) -> None: ...


# A frame keeps the previous frame's palette when the pixels that changed map onto it with at
# most REUSE_FAR_PIXELS further than REUSE_MAX_DISTANCE (RGB; median cut too gives up on colours
# a few pixels wide) and the pixels remapped since the last palette add at most
# REUSE_ERROR_BUDGET to the frame's mean |error| per channel; else it gets its own palette.
REUSE_MAX_DISTANCE = 48.0
REUSE_FAR_PIXELS = 64
REUSE_ERROR_BUDGET = 0.25
REUSE_MAX_COLOURS = 4096


def median_cut(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An adaptive 256-colour palette (256×3) for rgb and rgb's index image (H×W uint8)."""
    from PIL import Image

    img = Image.fromarray(rgb, "RGB").quantize(256, method=Image.Quantize.MEDIANCUT,
                                               dither=Image.Dither.NONE)
    pal = np.zeros((256, 3), dtype=np.int32)
    got = np.asarray(img.getpalette() or [], dtype=np.int32).reshape(-1, 3)[:256]
    pal[: len(got)] = got
    return pal, np.asarray(img, dtype=np.uint8)


def map_to_palette(pixels: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, float] | None:
    """N×3 pixels as indices of their nearest palette colours, with the sum of their mean
    |error| per channel; None when too many pixels are far off or there are too many colours."""
    px = pixels.astype(np.uint32)
    codes, inverse = np.unique((px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2],
                               return_inverse=True)
    if len(codes) > REUSE_MAX_COLOURS:
        return None
    cols = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.int32)
    d2 = ((cols[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)
    near = d2.argmin(axis=1)
    inverse = inverse.ravel()
    far = d2[np.arange(len(cols)), near] > REUSE_MAX_DISTANCE ** 2
    if far.any() and np.count_nonzero(far[inverse]) > REUSE_FAR_PIXELS:
        return None
    err = np.abs(cols - palette[near]).sum(axis=1) / 3.0
    return near[inverse].astype(np.uint8), float(err[inverse].sum())


class GifWriter:
    """Animated GIF through Pillow: adaptive palettes, exact durations, loops forever.

    Each frame gets a median-cut palette of its own, unless the pixels that changed since the
    previous frame map onto the previous palette closely (see REUSE_*): then only those pixels
    are mapped, which is fast and lets Pillow store just the changed rectangle."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = _check_fps(fps, GIF_MAX_FPS)
        self.frames = 0                       # frames received
        self.palettes = 0                     # palettes computed (the rest reused one)
        self._images: list = []               # palette images, identical neighbours merged
        self._counts: list[int] = []          # how many received frames each one stands for
        self._last: np.ndarray | None = None
        self._palette: np.ndarray | None = None
        self._palette_bytes = b""
        self._index: np.ndarray | None = None
        self._error = 0.0                     # |error| added by remapped pixels since a palette

    def add(self, frame: Any) -> None:
        """Quantize one frame now (so that close() only writes)."""
        from PIL import Image

        rgb = to_rgb(frame)
        self.frames += 1
        last = self._last
        if last is not None and rgb.shape != last.shape:
            raise ValueError(f"frame size changed from {last.shape[:2]} to {rgb.shape[:2]}")
        changed = None if last is None else (rgb != last).any(axis=2)
        if changed is not None and not changed.any():
            self._counts[-1] += 1
            return
        index = None
        if changed is not None:
            mapped = map_to_palette(rgb[changed], self._palette)
            if mapped is not None and \
                    self._error + mapped[1] <= REUSE_ERROR_BUDGET * changed.size:
                index = self._index.copy()
                index[changed] = mapped[0]
                self._error += mapped[1]
        if index is None:
            self._palette, index = median_cut(rgb)
            self._palette_bytes = self._palette.astype(np.uint8).tobytes()
            self._error = 0.0
            self.palettes += 1
        self._last, self._index = rgb, index
        img = Image.fromarray(index, "P")
        img.putpalette(self._palette_bytes)
        self._images.append(img)
        self._counts.append(1)

    def durations(self) -> list[int]:
        """The delay (ms) of each written frame: merged frames add their slots together."""
        per = gif_durations(self.frames, self.fps)
        out, i = [], 0
        for c in self._counts:
            out.append(sum(per[i:i + c]))
            i += c
        return out

    def close(self) -> Path:
        """Write the file."""
        if not self._images:
            raise ValueError("no frames to encode")
        first, *rest = self._images
        first.save(self.path, format="GIF", save_all=True, append_images=rest,
                   duration=self.durations(), loop=0, disposal=1)
        self._images = []
        return self.path

    def abort(self) -> None:
        """Drop the frames and any partial file."""
        self._images = []
        self.path.unlink(missing_ok=True)


class Mp4Writer:
    """H.264 MP4 (yuv420p, even size) through the ffmpeg binary that imageio-ffmpeg ships."""

    def __init__(self, path: str | Path, fps: float, crf: int = 20) -> None:
        self.path = Path(path)
        self.fps = _check_fps(fps, MP4_MAX_FPS)
        self.crf = crf
        self.frames = 0
        self.size: tuple[int, int] | None = None   # (width, height), even
        self._gen = None

    def _open(self, width: int, height: int) -> None:
        import imageio_ffmpeg

        self.size = (width + width % 2, height + height % 2)
        self._gen = imageio_ffmpeg.write_frames(
            str(self.path), self.size, fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-crf", str(self.crf), "-preset", "medium", "-tune", "animation",
                           "-movflags", "+faststart"])
        self._gen.send(None)

    def add(self, frame: Any) -> None:
        """Pipe one frame to ffmpeg (padded to the even size of the first frame)."""
        rgb = to_rgb(frame)
        h, w = rgb.shape[:2]
        if self._gen is None:
            self._open(w, h)
        tw, th = self.size
        if (w, h) != (tw, th):
            if w > tw or h > th or tw - w > 1 or th - h > 1:
                raise ValueError(f"frame size changed from {self.size} to {(w, h)}")
            rgb = np.ascontiguousarray(np.pad(rgb, ((0, th - h), (0, tw - w), (0, 0)),
                                              mode="edge"))
        self._gen.send(rgb)
        self.frames += 1

    def close(self) -> Path:
        """Let ffmpeg finish the file."""
        if self._gen is None:
            raise ValueError("no frames to encode")
        self._gen.close()
        self._gen = None
        return self.path

    def abort(self) -> None:
        """Kill ffmpeg and remove the partial file."""
        if self._gen is not None:
            try:
                self._gen.throw(_Kill())
            except _Kill:
                pass
            self._gen = None
        self.path.unlink(missing_ok=True)


def open_writer(path: str | Path, fps: float, fmt: str | None = None) -> FrameWriter:
    """A GifWriter or Mp4Writer for path (format from fmt or the suffix)."""
    return GifWriter(path, fps) if video_format(path, fmt) == "gif" else Mp4Writer(path, fps)


def encode(frames: Iterable[Any], path: str | Path, fps: float, fmt: str | None = None,
           total: int | None = None, progress: Progress | None = None,
           cancel: Callable[[], bool] | None = None) -> Path:
    """Encode frames to path; progress(done, total) after each, cancel() polled before each."""
    writer = open_writer(path, fps, fmt)
    try:
        for frame in frames:
            if cancel is not None and cancel():
                raise EncodeCancelled(f"cancelled after {writer.frames} frames")
            writer.add(frame)
            if progress is not None:
                progress(writer.frames, max(total or 0, writer.frames))
        if cancel is not None and cancel():
            raise EncodeCancelled(f"cancelled after {writer.frames} frames")
        return writer.close()
    except BaseException:
        writer.abort()
        raise


_END = object()


class BackgroundEncoder:
    """:func:`encode` on a daemon thread; submit() never blocks, poll ``done``/``error``."""

    def __init__(self, path: str | Path, fps: float, fmt: str | None = None,
                 total: int | None = None) -> None:
        self.path = Path(path)
        self.fmt = video_format(path, fmt)
        _check_fps(fps, GIF_MAX_FPS if self.fmt == "gif" else MP4_MAX_FPS)
        self.total = total
        self.encoded = 0
        self.result: Path | None = None
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fps,), daemon=True,
                                        name=f"encode {self.path.name}")
        self._thread.start()

    def _run(self, fps: float) -> None:
        def progress(done: int, _total: int) -> None:
            self.encoded = done
        try:
            result = encode(self._drain(), self.path, fps, self.fmt,
                            self.total, progress, self._cancel.is_set)
            if self._cancel.is_set():      # cancelled while the file was being written
                result.unlink(missing_ok=True)
                raise EncodeCancelled(f"cancelled after {self.encoded} frames")
            self.result = result
        except BaseException as exc:  # noqa: BLE001 - handed to the polling side
            self.error = exc

    def _drain(self) -> Iterator[Any]:
        while (item := self._queue.get()) is not _END:
            yield item

    @property
    def pending(self) -> int:
        """Frames submitted but not yet encoded."""
        return self._queue.qsize()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, EncodeCancelled)

    def submit(self, frame: Any) -> None:
        """Queue one frame (copied by the caller if it reuses its buffer)."""
        self._queue.put(frame)

    def finish(self) -> None:
        """No more frames: write the file once the queue is drained."""
        self._queue.put(_END)

    def cancel(self) -> None:
        """Stop at the next frame and remove the partial file."""
        self._cancel.set()
        self._queue.put(_END)

    def wait(self, timeout: float | None = None) -> Path:
        """Block until done; the written path, or raise the encode's error."""
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise TimeoutError(f"encoding {self.path.name} is still running")
        return self.result
