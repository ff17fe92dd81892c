"""The poster of an event (PNG): title, time, place, shifts with their sign-up texts and
a QR code of the volunteers' page, to save and post in a WeChat group.

Pillow is imported inside the functions that draw, so a worker or a web process that
never draws a poster never loads it. Drawing costs tens of milliseconds, so a few posters
are kept by the event's revision (a change bumps it) and the page that serves them
answers 304 to a browser that has this revision already.

The Chinese needs a CJK font: the first one fontconfig lists for Chinese (``fc-list``),
Noto Sans CJK SC on most Linux servers. Without one the poster is still drawn, with
Pillow's own font, and a warning is logged once: the text is then boxes, the QR code
still works.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
from typing import TYPE_CHECKING

from cachetools import LRUCache
from flask_babel import get_locale
from flask_babel import gettext as _

from volunteer_hub.events.share import Shared

if TYPE_CHECKING:
    from PIL import ImageDraw

log = logging.getLogger(__name__)

WIDTH = 1080
MARGIN = 72
RED = (166, 27, 27)  # the pages' primary colour
INK = (27, 27, 27)
MUTED = (74, 74, 74)
#: shifts drawn one by one; more are counted in one line
POSTER_SHIFTS = 8
#: posters kept in memory by what they say (``Shared`` and the language): a few
_cache: LRUCache = LRUCache(maxsize=8)


def poster_png(share: Shared) -> bytes:
    """The poster of ``share`` as PNG bytes, in the request's language."""
    key = (share, str(get_locale()))
    if key not in _cache:
        _cache[key] = _draw(share)
    return _cache[key]


def _draw(share: Shared) -> bytes:
    from PIL import Image, ImageDraw

    fonts = {size: _font(size) for size in (34, 40, 60)}
    # Measure on a scratch canvas first: the poster is as tall as its text.
    scratch = ImageDraw.Draw(Image.new("RGB", (WIDTH, 10)))
    laid_out = []
    for text, size, colour, gap, aside in _blocks(share):
        room = WIDTH - 2 * MARGIN
        if aside:
            room -= int(scratch.textlength(aside, font=fonts[size])) + 32
        laid_out.append((_wrap(scratch, text, fonts[size], room), size, colour, gap, aside))
    band, qr_side = 150, 360
    text_height = sum(_line(size) * len(lines) + gap for lines, size, _c, gap, _a in laid_out)
    height = band + MARGIN + text_height + qr_side + 200
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)

    draw.rectangle((0, 0, WIDTH, band), fill=RED)
    team = _wrap(draw, share.team, fonts[40], WIDTH - 2 * MARGIN)[0]
    draw.text((MARGIN, band // 2), team, font=fonts[40], fill="white", anchor="lm")
    y = band + MARGIN
    for lines, size, colour, gap, aside in laid_out:
        if aside:  # the text that signs up, on the right of its shift's first line
            draw.text((WIDTH - MARGIN, y), aside, font=fonts[size], fill=RED, anchor="ra")
        for line in lines:
            draw.text((MARGIN, y), line, font=fonts[size], fill=colour)
            y += _line(size)
        y += gap

    qr = _qr_image(share.url, qr_side)
    left = (WIDTH - qr_side) // 2
    image.paste(qr, (left, y))
    caption = _("扫码打开报名页面")
    draw.text((WIDTH // 2, y + qr_side + 50), caption, font=fonts[40], fill=INK, anchor="mm")
    footer = _wrap(draw, share.url, fonts[34], WIDTH - 2 * MARGIN)[0]
    draw.text((WIDTH // 2, y + qr_side + 110), footer, font=fonts[34], fill=MUTED, anchor="mm")

    out = io.BytesIO()
    # Flat colours compress well without ``optimize``, which costs ten times as long.
    image.save(out, format="PNG")
    return out.getvalue()


def _blocks(share: Shared) -> list[tuple[str, int, tuple, int, str]]:
    """(text, font size, colour, space after, text on the right) from top to bottom."""
    from volunteer_hub.events.share import how_to_text

    blocks = [
        (share.title, 60, INK, 28, ""),
        (_("时间：%(when)s", when=share.when), 40, INK, 8, ""),
        (_("地点：%(place)s", place=share.place), 40, INK, 32, ""),
        (_("班次（发短信右边的文字即可报名）："), 34, MUTED, 12, ""),
    ]
    for shift in share.shifts[:POSTER_SHIFTS]:
        label = f"{shift.title} " if shift.title else ""
        blocks.append((f"{label}{shift.when}", 40, INK, 14, f"报名 {shift.code}"))
    if len(share.shifts) > POSTER_SHIFTS:
        more = _("还有 %(n)d 个班次，见报名页面", n=len(share.shifts) - POSTER_SHIFTS)
        blocks.append((more, 34, MUTED, 14, ""))
    blocks.append((how_to_text(share), 34, INK, 40, ""))
    return blocks


def _line(size: int) -> int:
    """The height of a line of text of this size."""
    return int(size * 1.45)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """``text`` cut into lines no wider than ``width``: at any character, as Chinese is
    written (an English word may break; a poster line rarely holds one that long)."""
    lines, line = [], ""
    for char in text:
        if line and draw.textlength(line + char, font=font) > width:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    return [*lines, line] if line or not lines else lines


def _qr_image(url: str, side: int):
    import segno
    from PIL import Image

    qr = segno.make(url, error="m")
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=2)]
    image = Image.new("1", (len(matrix), len(matrix)), 1)
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    return image.resize((side, side), Image.Resampling.NEAREST)


@functools.cache
def _font(size: int):
    """The poster's font at ``size``, opened once per process (FreeType reads the file
    as it needs glyphs, so an open face holds little memory)."""
    from PIL import ImageFont

    path, index = _cjk_font()
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size, index=index)


@functools.cache
def _cjk_font() -> tuple[str | None, int]:
    """A font file with simplified Chinese and the face in it (a .ttc holds several: the
    SC one when there is one); (None, 0) when the system has none."""
    for path in _chinese_font_files():
        faces = _faces(path)
        for index, (family, style) in enumerate(faces):
            if "SC" in family.split() and style in ("Regular", "Medium", "Bold"):
                return path, index
        if faces:
            return path, 0
    log.warning("no CJK font found (fc-list :lang=zh-cn): event posters show boxes for Chinese")
    return None, 0


def _chinese_font_files() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listed = subprocess.run(
            [fc_list, ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    # Sans before serif, regular before bold: it reads best small and on a phone.
    return sorted(files, key=lambda f: ("Serif" in f, "Bold" in f, f))


def _faces(path: str) -> list[tuple[str, str]]:
    from PIL import ImageFont

    faces = []
    for index in range(16):
        try:
            faces.append(ImageFont.truetype(path, size=12, index=index).getname())
        except OSError:
            break
    return faces
