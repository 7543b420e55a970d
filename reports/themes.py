"""Comment themes: a keyword dictionary (Chinese and English) for the guide's problem classes."""
from __future__ import annotations

THEMES: dict[str, tuple[str, ...]] = {
    "attitude": ("态度", "不耐烦", "热情", "礼貌", "耐心", "attitude", "rude", "friendly", "polite", "helpful"),
    "efficiency": ("慢", "等待", "效率", "速度", "拖延", "排队", "slow", "wait", "too long", "quick", "delay"),
    "stability": ("断网", "掉线", "信号", "网速", "不稳定", "故障", "network", "signal", "dropping", "outage",
                  "internet", "connection"),
    "billing": ("话费", "扣费", "账单", "计费", "资费", "收费", "bill", "charge", "fee", "refund"),
    "after_sales": ("售后", "维修", "上门", "师傅", "安装", "repair", "technician", "after-sales", "install"),
}
