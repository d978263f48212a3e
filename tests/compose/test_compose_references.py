"""Reference preprocessing (alpha on white, the two fits, notes, order) and every bad reference input."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from openreels.errors import OpenreelsError
from openreels.pipelines.a2 import load_reference, prepare_references
from openreels.pipelines.a2.references import CLIP_CANVAS, Reference, fit_cover, fit_on_white


def _png_header_only(path, width, height):
    """A PNG that declares width x height but holds no pixels: opening it must not decode anything."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_png_alpha_is_composited_on_white(tmp_path):
    rgba = np.zeros((20, 10, 4), np.uint8)
    rgba[:, :5] = (30, 160, 160, 255)  # opaque teal left half, fully transparent right half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    ref = load_reference(tmp_path / "cut.png", "object")
    assert ref.kind == "object" and ref.name == "cut.png" and ref.image.shape == (20, 10, 3)
    assert (ref.image[:, :5] == (30, 160, 160)).all()
    assert (ref.image[:, 5:] == 255).all()


def test_subject_is_padded_on_white_background_is_cropped():
    tall = np.zeros((40, 20, 3), np.uint8)  # black, half as wide as tall
    padded = fit_on_white(tall, 32, 64)
    assert padded.shape == (32, 64, 3)
    assert (padded[:, :20] == 255).all() and (padded[:, -20:] == 255).all()  # white bars left and right
    assert (padded[4:-4, 28:36] < 10).all()  # the subject, centred
    cropped = fit_cover(tall, 32, 64)
    assert cropped.shape == (32, 64, 3) and (cropped < 10).all()  # no white added


def test_notes_for_resized_references_and_the_clip_canvas():
    exact = np.zeros((32, 48, 3), np.uint8)
    other = np.zeros((100, 30, 3), np.uint8)
    prepared = prepare_references([exact, other], 32, 48, ["character", "object"])
    assert [img.shape for img in prepared.vae_images] == [(32, 48, 3)] * 2
    assert [img.shape for img in prepared.clip_images] == [(CLIP_CANVAS, CLIP_CANVAS, 3)] * 2
    assert prepared.notes == ["reference 2 (array, 100x30) padded on white and resized to 32x48 (HxW)"]


def test_background_goes_last_with_a_note():
    plate, person = np.zeros((32, 48, 3), np.uint8), np.full((32, 48, 3), 9, np.uint8)
    prepared = prepare_references([plate, person], 32, 48, ["background", "character"])
    assert [ref.kind for ref in prepared.references] == ["character", "background"]
    assert prepared.notes == ["the background reference was moved last, where SkyReels-A2 expects it"]


def _one_line(exc_info):
    message = str(exc_info.value)
    assert "\n" not in message and message
    return message


def test_more_than_three_references():
    with pytest.raises(OpenreelsError, match="4 references given; SkyReels-A2 takes at most 3") as info:
        prepare_references([np.zeros((8, 8, 3), np.uint8)] * 4, 32, 32)
    _one_line(info)


def test_no_reference():
    with pytest.raises(OpenreelsError, match="no reference image given"):
        prepare_references([], 32, 32)


def test_two_backgrounds():
    with pytest.raises(OpenreelsError, match="more than one background"):
        prepare_references([np.zeros((8, 8, 3), np.uint8)] * 2, 32, 32, ["background", "background"])


def test_unknown_kind():
    with pytest.raises(OpenreelsError, match="unknown reference kind 'scenery'"):
        prepare_references([np.zeros((8, 8, 3), np.uint8)], 32, 32, ["scenery"])


def test_non_image_file(tmp_path):
    (tmp_path / "notes.png").write_text("this is text, not a picture\n")
    with pytest.raises(OpenreelsError, match="not a readable image file") as info:
        load_reference(tmp_path / "notes.png")
    _one_line(info)


def test_missing_file(tmp_path):
    with pytest.raises(OpenreelsError, match="image not found"):
        load_reference(tmp_path / "absent.png")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(OpenreelsError, match=r"empty file \(0 bytes\)"):
        load_reference(tmp_path / "empty.png")


def test_fully_transparent_image(tmp_path):
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    with pytest.raises(OpenreelsError, match="fully transparent"):
        load_reference(tmp_path / "clear.png")


def test_empty_array():
    with pytest.raises(OpenreelsError, match=r"empty \(0 pixels\)"):
        prepare_references([np.zeros((0, 10, 3), np.uint8)], 32, 32)


def test_wrong_array():
    with pytest.raises(OpenreelsError, match="RGB uint8"):
        prepare_references([np.zeros((8, 8), np.float32)], 32, 32)


@pytest.mark.parametrize("size", [(10_000, 5_000), (100_000, 100_000)])
def test_huge_image_is_refused_before_decoding(tmp_path, size):
    # 50 MP passes Pillow's own guard and is stopped by ours; 10 GP trips Pillow's decompression-bomb error.
    path = _png_header_only(tmp_path / "huge.png", *size)
    with pytest.raises(OpenreelsError, match="too large") as info:
        load_reference(path)
    _one_line(info)


def test_reference_objects_pass_through():
    ref = Reference(np.zeros((32, 32, 3), np.uint8), "background", "plate")
    prepared = prepare_references([ref], 32, 32)
    assert prepared.references[0] is ref and prepared.notes == []
