"""Reading a roster file: XLSX or CSV bytes → rows with named fields. Pure, no database.

Rosters come from Excel and WPS as people keep them: headers in Chinese with spaces,
full-width letters, "（必填）" and "*" marks, the header not always on the first line,
CSV files saved in UTF-8 (with or without a BOM) or, by Excel in China, in GB18030.
Phones may arrive as numbers (13800138000.0). Everything here is forgiving about form
and strict about content: the services decide what a row means.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from flask_babel import gettext as _

from volunteer_hub.errors import DomainError

#: the preferred header of each field, as the template shows it and the error sheet writes it
PREFERRED_HEADERS = {
    "name": "姓名",
    "phone": "手机号",
    "gender": "性别",
    "veteran": "是否退役军人",
    "skills": "技能特长",
    "team": "服务队",
    "unit": "所属单位",
    "note": "备注",
}
#: other spellings seen in rosters (compared after ``header_key``)
HEADER_ALIASES = {
    "name": ("名字", "队员姓名", "志愿者姓名", "name"),
    "phone": (
        "手机",
        "手机号码",
        "联系电话",
        "电话",
        "电话号码",
        "联系方式",
        "移动电话",
        "phone",
        "mobile",
    ),
    "gender": ("gender",),
    "veteran": ("退役军人", "是否为退役军人", "是否退伍军人"),
    "skills": ("技能", "特长", "专长", "技能/特长", "技能、特长"),
    "team": ("服务队名称", "志愿服务队", "所属服务队", "队伍", "队名"),
    "unit": ("所属社区", "社区", "单位", "所属单位/社区", "所属单位（社区）"),
    "note": ("说明",),
}
#: a sheet's header is looked for in its first rows
HEADER_SEARCH_ROWS = 10
#: more data rows than this in one file is refused (Ezhou's whole roster is 5,246)
MAX_ROWS = 20_000
#: an XLSX that unpacks to more than this is refused (a zip bomb is small on the wire)
MAX_UNPACKED_BYTES = 200 * 2**20
#: sheet titles Excel and WPS give by default, and our template's: not a team's name
DEFAULT_SHEET_TITLE = re.compile(r"^(sheet|工作表|表|花名册|名单|队员名单)\s*\d*$", re.IGNORECASE)

_YES = {"是", "y", "yes", "true", "1", "√", "✓", "退役军人"}
_NO = {"否", "n", "no", "false", "0", "×", "x", "不是", "非"}
_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_MARKS = re.compile(r"[\s*/、·:：()（）\[\]【】_-]")
_BRACKETED = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")


class UnreadableFile(DomainError):
    """The upload is not a roster we can read; nothing was imported."""

    code = "unreadable-roster"


@dataclass
class RosterRow:
    """One data row as typed. ``number`` is the row number the spreadsheet shows."""

    sheet: str
    number: int
    name: str = ""
    phone: str = ""
    veteran: bool | None = None
    skills: str = ""
    team: str = ""
    unit: str = ""
    #: the sheet's title when it may name the team (not "Sheet1")
    sheet_team: str = ""
    #: what the row says wrong before any lookup (a bad 是/否)
    error: str | None = None
    #: the cells of the recognised columns as typed, for the error sheet
    cells: dict[str, str] = field(default_factory=dict)


def header_key(text: str) -> str:
    """A header as compared: NFKC (full-width → half-width), no spaces, marks or
    bracketed notes ("手机号（必填）*" → "手机号"), lower case."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _BRACKETED.sub("", text)
    return _MARKS.sub("", text).lower()


_FIELD_BY_KEY: dict[str, str] = {}
for _field, _preferred in PREFERRED_HEADERS.items():
    for _alias in (_preferred, *HEADER_ALIASES.get(_field, ())):
        _FIELD_BY_KEY.setdefault(header_key(_alias), _field)


def match_headers(cells: Iterable[object]) -> dict[str, int]:
    """Field → column index for a header row (the first column wins a field)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field_name = _FIELD_BY_KEY.get(header_key(cell_text(cell)))
        if field_name and field_name not in found:
            found[field_name] = index
    return found


def cell_text(value: object) -> str:
    """A cell as text: numbers Excel stored for phones lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_roster(content: bytes, file_name: str = "") -> list[RosterRow]:
    """Every data row of every sheet that has a header with 姓名 and 手机号.

    Raises UnreadableFile (in Chinese) for anything that is not such a spreadsheet.
    """
    if content.startswith(b"PK\x03\x04"):
        sheets = _xlsx_sheets(content)
    elif content.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            _("这是旧版 Excel（.xls）文件，请在 Excel 或 WPS 中另存为 .xlsx 后再上传。")
        )
    else:
        sheets = [(_csv_title(file_name), _csv_rows(content))]
    rows: list[RosterRow] = []
    recognised = False
    for title, sheet_rows in sheets:
        recognised |= _read_sheet(title, sheet_rows, rows)
        if len(rows) > MAX_ROWS:
            raise UnreadableFile(_("文件行数过多：一次最多导入 %(n)d 行。", n=MAX_ROWS))
    if not recognised:
        raise UnreadableFile(
            _(
                "无法识别这个文件：请上传 Excel（.xlsx）或 CSV 文件，表头至少包含“姓名”和“手机号”两列。"
            )
        )
    return rows


def _read_sheet(title: str, sheet_rows: Iterator[tuple], out: list[RosterRow]) -> bool:
    columns = None
    for number, values in enumerate(sheet_rows, start=1):
        if columns is None:
            if number > HEADER_SEARCH_ROWS:
                return False
            found = match_headers(values)
            if "name" in found and "phone" in found:
                columns = found
            continue
        cells = {
            name: cell_text(values[i]) if i < len(values) else "" for name, i in columns.items()
        }
        if any(cells.values()):
            out.append(_row(title, number, cells))
    return columns is not None


def _row(title: str, number: int, cells: dict[str, str]) -> RosterRow:
    row = RosterRow(
        sheet=title,
        number=number,
        name=_CJK_SPACE.sub("", " ".join(cells.get("name", "").split())),
        phone=cells.get("phone", ""),
        skills=cells.get("skills", ""),
        team=" ".join(cells.get("team", "").split()),
        unit=" ".join(cells.get("unit", "").split()),
        sheet_team="" if DEFAULT_SHEET_TITLE.match(title.strip()) else title.strip(),
        cells=cells,
    )
    veteran = unicodedata.normalize("NFKC", cells.get("veteran", "")).strip().lower()
    if veteran in _YES:
        row.veteran = True
    elif veteran in _NO:
        row.veteran = False
    elif veteran:
        row.error = _("“是否退役军人”请填写“是”或“否”")
    return row


def _xlsx_sheets(content: bytes) -> list[tuple[str, Iterator[tuple]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise UnreadableFile(_("文件过大，无法导入。"))
        # read-only: rows are streamed from the XML, not built as a sheet in memory
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except UnreadableFile:
        raise
    except Exception:
        # openpyxl raises a zoo (BadZipFile, KeyError, InvalidFileException, XML errors):
        # whatever it is, the file is not a workbook we can read.
        raise UnreadableFile(
            _("无法读取这个 Excel 文件：文件可能已损坏，或不是 .xlsx 格式。")
        ) from None
    return [(sheet.title, sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]


def _csv_title(file_name: str) -> str:
    stem = file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def _csv_rows(content: bytes) -> Iterator[tuple]:
    if b"\x00" in content[:4096]:
        raise UnreadableFile(_("无法识别这个文件：请上传 Excel（.xlsx）或 CSV 文件。"))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # What Excel in China saves "CSV" as (a superset of GBK and GB2312).
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise UnreadableFile(
                _("无法识别文件编码：请将 CSV 文件保存为 UTF-8 或 GBK 编码。")
            ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count)
    return (tuple(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
