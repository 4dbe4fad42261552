"""The ReportLab renderer's fonts are stripped once per machine, not once per process."""

from __future__ import annotations

import pytest

from purchasing.billing import reportlab_rendering as rendering


@pytest.fixture
def regular_font():
    return rendering._font_path(rendering.FONT_FILES[rendering.REGULAR])


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CENTRALE_CACHE_DIR", str(tmp_path))
    return tmp_path / "fonts"


def test_stripped_font_is_kept_and_read_back_without_stripping_again(
    regular_font, cache_dir, monkeypatch
):
    first = rendering._embeddable(regular_font).getvalue()
    (kept,) = cache_dir.iterdir()
    assert kept.read_bytes() == first == rendering._strip(regular_font.read_bytes())
    assert len(first) < regular_font.stat().st_size  # hinting and licence texts are gone

    def no_stripping(_source):
        raise AssertionError("the cached font should have been used")

    monkeypatch.setattr(rendering, "_strip", no_stripping)
    assert rendering._embeddable(regular_font).getvalue() == first


def test_another_font_file_is_never_served_from_the_copy_of_an_older_one(
    regular_font, cache_dir, tmp_path
):
    rendering._embeddable(regular_font)
    upgraded = tmp_path / regular_font.name
    upgraded.write_bytes(rendering._font_path(rendering.FONT_FILES[rendering.BOLD]).read_bytes())
    served = rendering._embeddable(upgraded).getvalue()
    assert served == rendering._strip(upgraded.read_bytes())
    assert len(list(cache_dir.iterdir())) == 2


def test_a_cache_that_cannot_be_written_still_gives_the_font(regular_font, tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    monkeypatch.setenv("CENTRALE_CACHE_DIR", str(blocked))
    served = rendering._embeddable(regular_font).getvalue()
    assert served == rendering._strip(regular_font.read_bytes())
