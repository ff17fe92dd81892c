"""Reading a roster file: XLSX or CSV bytes → rows with named fields. Pure, no database.

Rosters come from Excel and WPS as people keep them: headers in Chinese with spaces,
full-width letters, "（必填）" and "*" marks, the header not always on the first line,
CSV files saved in UTF-8 (with or without a BOM) or, by Excel in China, in GB18030.
Phones may arrive as numbers (13800138000.0). Offices merge the 服务队 / 所属单位 cell
down over a team's members: every cell a merged range covers reads as its value. Hidden
sheets are skipped (nobody sees them in Excel) and named, so the preview can say so.
Everything here is forgiving about form and strict about content: the services decide
what a row means.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

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
    "name": ("名字", "队员姓名", "志愿者姓名", "成员姓名", "真实姓名", "name"),
    "phone": (
        "手机",
        "手机号码",
        "移动电话",
        "mobile",
        # looser: a landline as often as a mobile, so a mobile column beats them
        "联系电话",
        "电话",
        "电话号码",
        "联系方式",
        "phone",
    ),
    "gender": ("gender",),
    "veteran": ("退役军人", "是否为退役军人", "是否退伍军人"),
    "skills": ("技能", "特长", "专长", "技能/特长", "技能、特长"),
    "team": (
        "服务队名称",
        "志愿服务队",
        "所属服务队",
        "队伍",
        "队名",
        "所属队伍",
        "队伍名称",
        "所属志愿服务队",
        "志愿服务队名称",
        "所属志愿队",
        "志愿队",
        "服务队伍",
    ),
    "unit": (
        "所属社区",
        "社区",
        "单位",
        "所属单位/社区",
        "所属单位（社区）",
        "单位名称",
        "所属街道",
        "所属村/社区",
    ),
    "note": ("说明",),
}
#: headers that name a field less surely: any other column of the field wins over them
#: (a 联系电话 column often holds a landline while 手机号码 holds the mobile)
LOOSE_HEADERS = {"phone": ("联系电话", "电话", "电话号码", "联系方式", "phone")}
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
#: a merged range in a sheet's XML (after its rows); the prefix is whatever the writer chose
_MERGE_CELL = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Z]+)(\d+):([A-Z]+)(\d+)\"")


class UnreadableFile(DomainError, code="unreadable-roster"):
    """The upload is not a roster we can read; nothing was imported."""


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


#: header key → (field, rank): rank 0 for the sure headers, 1 for the loose ones
_FIELD_BY_KEY: dict[str, tuple[str, int]] = {}
for _field, _preferred in PREFERRED_HEADERS.items():
    for _alias in (_preferred, *HEADER_ALIASES.get(_field, ())):
        _rank = 1 if _alias in LOOSE_HEADERS.get(_field, ()) else 0
        _FIELD_BY_KEY.setdefault(header_key(_alias), (_field, _rank))


def match_headers(cells: Iterable[object]) -> dict[str, int]:
    """Field → column index for a header row: a sure header beats a loose one (手机号码
    beats 联系电话), then the first column wins a field."""
    found: dict[str, tuple[int, int]] = {}
    for index, cell in enumerate(cells):
        match = _FIELD_BY_KEY.get(header_key(cell_text(cell)))
        if match is None:
            continue
        field_name, rank = match
        if field_name not in found or rank < found[field_name][0]:
            found[field_name] = (rank, index)
    return {field_name: index for field_name, (_rank, index) in found.items()}


def cell_text(value: object) -> str:
    """A cell as text: numbers Excel stored for phones lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class RosterFile:
    rows: list[RosterRow]
    #: titles of the hidden sheets, not read
    hidden_sheets: list[str] = field(default_factory=list)


def read_roster(content: bytes, file_name: str = "") -> list[RosterRow]:
    """Every data row of every visible sheet that has a header with 姓名 and 手机号."""
    return read_file(content, file_name).rows


def read_file(content: bytes, file_name: str = "") -> RosterFile:
    """The rows of ``read_roster``, and the hidden sheets left out.

    Raises UnreadableFile (in Chinese) for anything that is not such a spreadsheet.
    """
    hidden: list[str] = []
    if content.startswith(b"PK\x03\x04"):
        sheets = _xlsx_sheets(content, hidden)
        # A sheet's title may name its team (one sheet per team).
        titles_name_teams = True
    elif content.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            _("这是旧版 Excel（.xls）文件，请在 Excel 或 WPS 中另存为 .xlsx 后再上传。")
        )
    else:
        sheets = [(_csv_title(file_name), _csv_rows(content))]
        # A CSV's file name is whatever the office saved it as ("新建 Microsoft Excel
        # 工作表"): it shows as the sheet in messages, never as a team.
        titles_name_teams = False
    rows: list[RosterRow] = []
    recognised = False
    for title, sheet_rows in sheets:
        recognised |= _read_sheet(title, sheet_rows, rows, titles_name_teams)
        if len(rows) > MAX_ROWS:
            raise UnreadableFile(_("文件行数过多：一次最多导入 %(n)d 行。", n=MAX_ROWS))
    if not recognised:
        raise UnreadableFile(
            _(
                "无法识别这个文件：请上传 Excel（.xlsx）或 CSV 文件，表头至少包含“姓名”和“手机号”两列。"
            )
        )
    return RosterFile(rows=rows, hidden_sheets=hidden)


def _read_sheet(
    title: str, sheet_rows: Iterator[tuple], out: list[RosterRow], title_names_team: bool
) -> bool:
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
            out.append(_row(title, number, cells, title_names_team))
    return columns is not None


def clean_text(text: str) -> str:
    """A name as meant: no invisible characters (zero-width spaces, BOMs, soft hyphens:
    Unicode's format characters), spaces collapsed (\xa0 and full-width ones too)."""
    if text.isascii():
        return " ".join(text.split())
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(visible.split())


def _row(title: str, number: int, cells: dict[str, str], title_names_team: bool) -> RosterRow:
    sheet_team = clean_text(title) if title_names_team else ""
    row = RosterRow(
        sheet=title,
        number=number,
        name=_CJK_SPACE.sub("", clean_text(cells.get("name", ""))),
        phone=cells.get("phone", ""),
        skills=cells.get("skills", ""),
        team=clean_text(cells.get("team", "")),
        unit=clean_text(cells.get("unit", "")),
        sheet_team="" if DEFAULT_SHEET_TITLE.match(sheet_team) else sheet_team,
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


def _xlsx_sheets(content: bytes, hidden: list[str]) -> list[tuple[str, Iterator[tuple]]]:
    """The visible sheets' titles and rows; the hidden sheets' titles go to ``hidden``."""
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
    sheets = []
    for sheet in workbook.worksheets:
        if sheet.sheet_state != "visible":  # "hidden" or "veryHidden"
            hidden.append(sheet.title)
            continue
        rows = sheet.iter_rows(values_only=True)
        merged = _merged_ranges(content, sheet._worksheet_path)
        sheets.append((sheet.title, _fill_merged(rows, merged) if merged else rows))
    return sheets


def _merged_ranges(content: bytes, path: str) -> list[tuple[int, int, int, int]]:
    """(first row, last row, first column, last column), 1-based, of each merged range of
    the sheet at ``path``. openpyxl's read-only mode leaves them out, so they are read
    from the sheet's XML, streamed in chunks: the ranges come after all the rows."""
    ranges = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        try:
            stream = archive.open(path.lstrip("/"))
        except KeyError:
            return []
        with stream:
            tail = b""
            while chunk := stream.read(1 << 20):
                text = tail + chunk
                end = 0
                if b"mergeCell" not in text:  # nearly every chunk: the rows
                    tail = text[-200:]
                    continue
                for match in _MERGE_CELL.finditer(text):
                    first_col, first_row, last_col, last_row = match.groups()
                    ranges.append(
                        (
                            int(first_row),
                            int(last_row),
                            _column_number(first_col),
                            _column_number(last_col),
                        )
                    )
                    end = match.end()
                # keep what may hold the start of a range cut in two by the chunk
                tail = text[max(end, len(text) - 200) :]
    return [r for r in ranges if r[1] > r[0] or r[3] > r[2]]


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _fill_merged(rows: Iterator[tuple], ranges: list[tuple[int, int, int, int]]):
    """The rows with every cell a merged range covers holding the range's value (Excel
    keeps it in the top-left cell only)."""
    by_first_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for merged in ranges:
        by_first_row.setdefault(merged[0], []).append(merged)
    #: (last row, first column, last column, value) of the ranges being filled
    open_ranges: list[tuple[int, int, int, object]] = []
    for number, values in enumerate(rows, start=1):
        values = list(values)
        for _first_row, last_row, first_col, last_col in by_first_row.get(number, ()):
            value = values[first_col - 1] if first_col <= len(values) else None
            if value is not None:
                open_ranges.append((last_row, first_col, last_col, value))
        if open_ranges:
            open_ranges = [r for r in open_ranges if r[0] >= number]
            for _last_row, first_col, last_col, value in open_ranges:
                if len(values) < last_col:
                    values.extend([None] * (last_col - len(values)))
                values[first_col - 1 : last_col] = [value] * (last_col - first_col + 1)
        yield tuple(values)


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
    return (
        tuple(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    )


def _delimiter(text: str) -> str:
    """The delimiter that makes a header of 姓名 and 手机号 out of one of the first lines
    (a title line above it may have none); else the commonest in those lines."""
    head = text[:65536]
    for delimiter in ",\t;":
        reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter)
        for cells in islice(reader, HEADER_SEARCH_ROWS):
            found = match_headers(cells)
            if "name" in found and "phone" in found:
                return delimiter
    lines = "\n".join(head.splitlines()[:HEADER_SEARCH_ROWS])
    return max(",\t;", key=lines.count)
