"""Both languages everywhere a person reads: every interface message has its zh-CN text."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_message_is_translated_to_chinese():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "zh_cn.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_chinese_customer_reads_chinese_errors(ctx, client):
    from tests.conftest import sent_invitation
    from tests.test_web_survey import answer_page

    invitation = sent_invitation(locale="zh-CN")
    page = answer_page(client, invitation.token, {}, page=1).get_data(as_text=True)
    assert "请回答此问题。" in page and "第 1 页,共 4 页" in page


def test_staff_pages_switch_language(ctx, client):
    from tests.conftest import login, post_form

    login(client, "agent")
    assert "回访工作列表" in client.get("/callbacks").get_data(as_text=True)  # default zh-CN
    post_form(client, "/lang/en", {}, token_from="/callbacks")
    assert "Callback work list" in client.get("/callbacks").get_data(as_text=True)
