"""Reading roster files: tolerant headers, XLSX and CSV in the encodings Excel writes,
and a clear Chinese refusal of anything else."""

from __future__ import annotations

import pytest

from tests.roster.conftest import csv_file, office_xlsx, xlsx
from volunteer_hub.roster.reader import (
    UnreadableFile,
    header_key,
    match_headers,
    read_file,
    read_roster,
)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓名", "name"),
        (" 姓 名 ", "name"),
        ("姓名*", "name"),
        ("手机号", "phone"),
        ("手机号码（必填）", "phone"),
        ("手机", "phone"),
        ("联系电话", "phone"),
        ("电话", "phone"),
        ("性别", "gender"),
        ("是否退役军人", "veteran"),
        ("是否退役军人（是/否）", "veteran"),
        ("技能/特长", "skills"),
        ("技能特长", "skills"),
        ("特长", "skills"),
        ("服务队", "team"),
        ("所属单位/社区", "unit"),
        ("所属单位", "unit"),
        ("社区", "unit"),
        ("备注", "note"),
        ("\u3000姓\u3000名\u3000", "name"),  # full-width spaces
        ("（必填）手机号", "phone"),
        ("Ｐｈｏｎｅ", "phone"),  # full-width letters
    ],
)
def test_headers_are_matched_tolerantly(header, field):
    assert match_headers(["序号", header]) == {field: 1}


def test_unknown_headers_are_ignored_and_the_first_column_of_a_field_wins():
    assert match_headers(["序号", "手机", "姓名", "联系电话", "出生年月"]) == {
        "phone": 1,
        "name": 2,
    }
    assert header_key("手机号码（必填）*") == "手机号码"


def test_xlsx_rows_keep_their_spreadsheet_row_numbers_and_phones_stored_as_numbers():
    content = xlsx(
        (
            "鄂城区志愿服务队",
            [
                ["鄂城区退役军人志愿服务队花名册"],  # a title line above the header
                [],
                ["序号", "姓 名", "手机号码", "是否退役军人"],
                [1, "张 三", 13800138000, "是"],
                [],
                [2, "李四", 13900139000.0, "否"],
            ],
        )
    )
    rows = read_roster(content, "roster.xlsx")
    assert [(r.number, r.name, r.phone, r.veteran) for r in rows] == [
        (4, "张三", "13800138000", True),
        (6, "李四", "13900139000", False),
    ]
    assert rows[0].sheet_team == "鄂城区志愿服务队"


def test_default_sheet_titles_do_not_name_a_team():
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["张三", "13800138000"]]))
    assert read_roster(content)[0].sheet_team == ""


def test_a_bad_veteran_value_is_a_row_error():
    content = xlsx(
        ("Sheet1", [["姓名", "手机号", "是否退役军人"], ["张三", "13800138000", "也许"]])
    )
    assert "是否退役军人" in read_roster(content)[0].error


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("utf-8", ","), ("gb18030", ","), ("gb18030", "\t"), ("utf-8", ";")],
)
def test_csv_in_utf8_with_or_without_bom_and_gb18030(encoding, delimiter):
    content = csv_file(
        [["姓名", "联系电话", "技能/特长"], ["王五", "138 0013 8000", "驾驶、急救"]],
        encoding,
        delimiter,
    )
    (row,) = read_roster(content, "名单.csv")
    assert (row.name, row.phone, row.skills) == ("王五", "138 0013 8000", "驾驶、急救")


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"PK\x03\x04 not really a zip",
        "这是一段文字，不是花名册。".encode(),
        b"",
    ],
)
def test_what_is_not_a_roster_is_refused_in_chinese(content):
    with pytest.raises(UnreadableFile) as caught:
        read_roster(content, "upload.bin")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)


def test_old_xls_files_are_asked_to_be_saved_as_xlsx():
    with pytest.raises(UnreadableFile, match=r"\.xlsx"):
        read_roster(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls")


# -- what district offices' files look like (audit of the roster import) ------------------


def test_a_merged_team_or_unit_cell_gives_its_value_to_every_row_it_covers():
    content = office_xlsx(
        (
            "Sheet1",
            [
                ["姓名", "手机号", "服务队", "所属单位"],
                ["甲", "13800138001", "新队", "鄂城区"],
                ["乙", "13800138002", None, None],
                ["丙", "13800138003", None, None],
                ["丁", "13800138004", "老队", None],
                ["戊", "13800138005", None, None],
                ["己", "13800138006", None, None],
            ],
        ),
        merged={"Sheet1": ["C2:C4", "D2:D4", "C5:C6"]},
    )
    rows = read_roster(content, "roster.xlsx")
    assert [(r.number, r.team, r.unit) for r in rows] == [
        (2, "新队", "鄂城区"),
        (3, "新队", "鄂城区"),
        (4, "新队", "鄂城区"),
        (5, "老队", ""),
        (6, "老队", ""),
        (7, "", ""),
    ]


def test_hidden_sheets_are_skipped_and_named():
    content = office_xlsx(
        ("Sheet1", [["姓名", "手机号"], ["可见", "13800138001"]]),
        ("旧名单", [["姓名", "手机号"], ["隐藏甲", "13800138002"], ["隐藏乙", "13800138003"]]),
        hidden=("旧名单",),
    )
    roster = read_file(content, "roster.xlsx")
    assert [r.name for r in roster.rows] == ["可见"]
    assert roster.hidden_sheets == ["旧名单"]


def test_a_mobile_column_beats_a_contact_phone_column_wherever_it_is():
    assert match_headers(["姓名", "联系电话", "手机号码", "服务队"])["phone"] == 2
    assert match_headers(["姓名", "电话", "联系方式", "手机"])["phone"] == 3
    assert match_headers(["姓名", "联系电话", "电话"])["phone"] == 1


@pytest.mark.parametrize(
    "header", ["所属队伍", "队伍名称", "所属志愿服务队", "志愿服务队名称", "所属志愿队"]
)
def test_more_spellings_of_the_team_column(header):
    assert match_headers(["姓名", "手机号", header]) == {"name": 0, "phone": 1, "team": 2}


def test_a_csv_file_name_never_names_a_team():
    content = csv_file([["姓名", "手机号", "所属社区"], ["王五", "13800138000", "莲花山社区"]])
    for name in ("新建 Microsoft Excel 工作表.csv", "莲花山社区退役军人名单（2026年3月更新）.csv"):
        (row,) = read_roster(content, name)
        assert (row.team, row.sheet_team) == ("", "")


def test_the_csv_delimiter_is_found_under_a_title_line_without_it():
    text = "鄂州市退役军人志愿服务队花名册\r\n姓名\t手机号\t服务队\r\n王五\t13800138000\t甲队\r\n"
    (row,) = read_roster(text.encode("gb18030"), "名单.csv")
    assert (row.number, row.name, row.phone, row.team) == (3, "王五", "13800138000", "甲队")


def test_invisible_characters_leave_names_and_team_names():
    content = xlsx(
        (
            "Sheet1",
            [
                ["姓名", "手机号", "服务队"],
                ["李四\u200b", "13800138000", "\ufeff莲花山\xa0\xa0戎马队\u200b"],
            ],
        )
    )
    (row,) = read_roster(content)
    assert (row.name, row.team) == ("李四", "莲花山 戎马队")
