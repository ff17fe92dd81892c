"""Reading roster files: tolerant headers, XLSX and CSV in the encodings Excel writes,
and a clear Chinese refusal of anything else."""

from __future__ import annotations

import pytest

from tests.roster.conftest import csv_file, xlsx
from volunteer_hub.roster.reader import UnreadableFile, header_key, match_headers, read_roster


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
