"""Uploads are checked by decoding them (PIL for images, PyAV for videos), never by their name."""

from __future__ import annotations

from pathlib import Path

from openreels.errors import OpenreelsError

VIDEO_TYPES = {
    "mov,mp4,m4a,3gp,3g2,mj2": "video/mp4",
    "matroska,webm": "video/webm",
    "avi": "video/x-msvideo",
}


class Unreadable(OpenreelsError):
    """Not an image or video this server can decode."""


class TooLarge(OpenreelsError):
    """Over the pixel or frame limit."""


def inspect(path: Path, max_pixels: int, max_frames: int) -> dict:
    """kind, content_type, width, height and frames of an image or video file, by decoding all of it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise TooLarge(
                    f"the image is {img.width}x{img.height}; at most {max_pixels} pixels, resize it"
                )
            if getattr(img, "n_frames", 1) == 1:
                img.load()
                mime = Image.MIME.get(img.format or "", "application/octet-stream")
                return dict(kind="image", content_type=mime, width=img.width, height=img.height, frames=1)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        pass
    except OSError as exc:
        raise Unreadable(f"the image cannot be decoded ({exc}); upload a PNG, JPEG or WebP file") from exc
    return _inspect_video(path, max_pixels, max_frames)


def _inspect_video(path: Path, max_pixels: int, max_frames: int) -> dict:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise Unreadable("the file has no video stream; upload an image or an MP4/WebM video")
            stream = container.streams.video[0]
            fmt = container.format.name
            frames = 0
            width = height = 0
            for frame in container.decode(stream):
                width, height = frame.width, frame.height
                if width * height > max_pixels:
                    raise TooLarge(f"the video is {width}x{height}; at most {max_pixels} pixels a frame")
                frames += 1
                if frames > max_frames:
                    raise TooLarge(f"the video has more than {max_frames} frames; trim it")
    except OpenreelsError:
        raise
    except Exception as exc:  # PyAV raises many types for input that is not a video
        raise Unreadable(
            "the file is not an image or video that can be decoded; upload PNG/JPEG/MP4"
        ) from exc
    if frames == 0:
        raise Unreadable("the video has no frames that decode; upload another file")
    content_type = VIDEO_TYPES.get(fmt, "application/octet-stream")
    return dict(kind="video", content_type=content_type, width=width, height=height, frames=frames)
