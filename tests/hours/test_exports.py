"""Report pages, CSV and XLSX exports, and the printable certificate: who may see them,
and that Chinese survives the round trip."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import login
from tests.hours.report_support import at, served, settle, tree
from tests.hours.support import viewer
from volunteer_hub.extensions import db
from volunteer_hub.hours import verification

PERIOD = {"from": "2031-01", "to": "2031-12"}


@pytest.fixture
def scene(make, broker, worker):
    s = tree()
    s.a, s.b = served(s.t1, s.l1, when=at(2031, 3, 5), hours_each=2, people=2)
    served(
        s.t1,
        s.l1,
        when=at(2031, 5, 5),
        hours_each=3,
        people=0,
        existing=[s.a],
        title="红色故事宣讲",
    )
    # Pending, so not on the certificate nor in the figures.
    served(
        s.t1,
        s.l1,
        when=at(2031, 6, 5),
        hours_each=4,
        people=0,
        existing=[s.a],
        verify=False,
        title="未审核的巡堤",
    )
    served(s.t3, s.l3, when=at(2031, 4, 1), hours_each=5)
    settle(broker, worker)
    return s


def xlsx(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.data))


def test_unit_page_for_a_coordinator_shows_their_subtree_with_charts(client, scene):
    login(client, scene.coordinator)
    page = client.get("/hours/reports", query_string=PERIOD).get_data(as_text=True)
    assert "莲花山社区戎马志愿服务队" in page and "凤凰街道老兵志愿服务队" in page
    assert "华容区长江卫士服务队" not in page  # another district
    assert page.count('<svg class="chart"') == 2
    assert '<title id="chart-teams-title">' in page
    assert "莲花山社区戎马志愿服务队 7 小时" in page  # the chart says its numbers in words
    # Another unit is not the coordinator's: 404.
    assert client.get("/hours/reports", query_string={"unit": scene.huarong.id}).status_code == 404
    assert client.get("/hours/reports.csv", query_string={"unit": scene.city.id}).status_code == 404


def test_admin_chooses_any_unit_and_a_leader_is_sent_to_their_team(client, scene):
    login(client, scene.admin)
    page = client.get("/hours/reports", query_string={**PERIOD, "unit": scene.huarong.id})
    assert page.status_code == 200
    assert "华容区长江卫士服务队" in page.get_data(as_text=True)
    client.post("/logout")
    login(client, scene.l1)
    response = client.get("/hours/reports")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/teams/{scene.t1.id}/hours/report")
    assert client.get("/hours/reports.xlsx").status_code == 404


def test_unit_csv_starts_with_a_bom_and_keeps_chinese(client, scene):
    login(client, scene.coordinator)
    response = client.get("/hours/reports.csv", query_string=PERIOD)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    assert "服务队,所属单位,服务时长（小时）,服务时长（分钟）,服务次数,参与人次" in text
    assert "莲花山社区戎马志愿服务队,鄂城区,7,420,3,3" in text
    assert "华容区长江卫士服务队" not in text
    assert "attachment" in response.headers["Content-Disposition"]


def test_unit_xlsx_reads_back_with_chinese_intact(client, scene):
    login(client, scene.coordinator)
    book = xlsx(client.get("/hours/reports.xlsx", query_string=PERIOD))
    assert book.sheetnames == ["按服务队", "按类别", "按月份"]
    rows = list(book["按服务队"].iter_rows(values_only=True))
    header = rows.index(
        ("服务队", "所属单位", "服务时长（小时）", "服务时长（分钟）", "服务次数", "参与人次")
    )
    body = rows[header + 1 :]
    assert body[0] == ("莲花山社区戎马志愿服务队", "鄂城区", 7, 420, 3, 3)
    assert body[-1][0] == "合计" and body[-1][3] == 420
    months = list(book["按月份"].iter_rows(values_only=True))
    assert ("2031-03", 4, 240, 2, 2) in months


def test_team_report_page_and_exports_mask_phones_for_a_coordinator_of_another_branch(
    client, scene, make
):
    login(client, scene.l1)
    page = client.get(f"/teams/{scene.t1.id}/hours/report", query_string=PERIOD)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert scene.a.name in html and "服务记录证明" in html
    book = xlsx(client.get(f"/teams/{scene.t1.id}/hours/report.xlsx", query_string=PERIOD))
    rows = list(book["按志愿者"].iter_rows(values_only=True))
    a_row = next(row for row in rows if row[0] == scene.a.name)
    assert a_row[2:5] == (5, 300, 2)
    assert "****" not in a_row[1]  # the leader reads the team's numbers
    csv_text = client.get(f"/teams/{scene.t1.id}/hours/report.csv", query_string=PERIOD).data
    assert csv_text.startswith(b"\xef\xbb\xbf")
    # Another team's leader: 404.
    client.post("/logout")
    login(client, scene.l3)
    assert client.get(f"/teams/{scene.t1.id}/hours/report").status_code == 404
    assert client.get(f"/teams/{scene.t1.id}/hours/report.csv").status_code == 404


def test_certificate_lists_verified_services_only_and_masks_the_phone(client, scene):
    login(client, scene.l1)
    url = f"/teams/{scene.t1.id}/hours/people/{scene.a.id}/certificate"
    html = client.get(url).get_data(as_text=True)
    assert "志愿服务记录证明" in html
    assert "长江巡堤" in html and "红色故事宣讲" in html
    assert "未审核的巡堤" not in html
    national = scene.a.phone[3:]
    assert national not in html
    assert f"{national[:3]}****{national[-4:]}" in html
    assert "（盖章）" in html
    assert "湖北省 鄂州市 鄂城区" in html
    assert "2031-03-05" in html

    book = xlsx(client.get(url + ".xlsx"))
    sheet = book.active
    values = [row for row in sheet.iter_rows(values_only=True)]
    flat = [str(v) for row in values for v in row if v is not None]
    assert "志愿服务记录证明" in flat
    assert f"{national[:3]}****{national[-4:]}" in flat
    assert "红色故事宣讲" in flat and "未审核的巡堤" not in flat
    assert any("（盖章）" in v for v in flat)
    total_row = next(row for row in values if row[2] == "合计")
    assert total_row[3] == 5


def test_certificate_for_the_volunteer_themself_and_nobody_else(client, scene, make):
    url = f"/teams/{scene.t1.id}/hours/people/{scene.a.id}/certificate"
    a = scene.a
    from volunteer_hub.auth.services import set_password

    set_password(a, "volunteer-pass-42")
    db.session.commit()
    login(client, a, password="volunteer-pass-42")
    assert client.get(url).status_code == 200
    assert (
        client.get(f"/teams/{scene.t1.id}/hours/people/{scene.b.id}/certificate").status_code == 404
    )
    client.post("/logout")
    login(client, scene.l3)  # leads another team
    assert client.get(url).status_code == 404
    client.post("/logout")
    login(client, scene.coordinator)  # above the team
    assert client.get(url).status_code == 200
    # Someone with no tie to the team: 404 even for an admin.
    stranger = make.person()
    client.post("/logout")
    login(client, scene.admin)
    assert (
        client.get(f"/teams/{scene.t1.id}/hours/people/{stranger.id}/certificate").status_code
        == 404
    )


def test_figures_follow_a_verification_after_the_worker(client, scene, broker, worker):
    from sqlalchemy import select

    from volunteer_hub.hours.models import ServiceRecord

    pending = db.session.scalar(select(ServiceRecord).where(ServiceRecord.status == "pending"))
    verification.verify([pending.id], viewer=viewer(scene.l1), now=at(2031, 7, 1))
    db.session.commit()
    settle(broker, worker)
    login(client, scene.coordinator)
    text = client.get("/hours/reports.csv", query_string=PERIOD).data.decode("utf-8-sig")
    assert "莲花山社区戎马志愿服务队,鄂城区,11,660,4,4" in text
    assert "2031-06,4,240,1,1" in text  # June now has the four hours


@pytest.mark.parametrize("month", ["2031-13", "2031-00", "March", "2031-3-x", "0-01"])
def test_a_month_that_is_no_month_is_a_form_error(client, scene, month):
    login(client, scene.coordinator)
    for url in ("/hours/reports", f"/teams/{scene.t1.id}/hours/report"):
        response = client.get(url, query_string={"from": month, "to": "2031-12"})
        assert response.status_code == 400, url
        html = response.get_data(as_text=True)
        alert = html.split('role="alert"')[1].split("</div>")[0]
        assert "月份不正确" in alert and "2026-03" in alert
        assert '<svg class="chart"' in html  # the page is there, with this year's figures
    assert client.get("/hours/reports.csv", query_string={"from": month}).status_code == 400


def test_a_period_too_long_is_a_form_error_too(client, scene):
    login(client, scene.coordinator)
    response = client.get("/hours/reports", query_string={"from": "2001-01", "to": "2031-12"})
    assert response.status_code == 400
    assert "一次最多统计" in response.get_data(as_text=True)


def test_the_month_chart_names_each_month_and_the_year_where_it_turns(client, scene):
    login(client, scene.coordinator)
    html = client.get("/hours/reports", query_string={"from": "2030-11", "to": "2031-02"})
    svg = html.get_data(as_text=True).split('id="chart-months"')[1].split("</svg>")[0]
    labels = re.findall(r'fill="#5c5c5c">([^<]+)</text>', svg)
    assert labels == ["11月", "2030", "12月", "1月", "2031", "2月", "单位：小时"]
