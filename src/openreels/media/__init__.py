"""Video, image and audio files: reading, writing (always atomically) and sidecars."""

from openreels.media.video import atomic_output, read_image, read_video, write_video

__all__ = ["atomic_output", "read_image", "read_video", "write_video"]
