"""zh-CN for the dashboard's stored comment themes (computed by the scheduler)."""
ZH = {
    "Computed %(when)s (China time) by the scheduler.": "由定时任务于 %(when)s(北京时间)计算。",
    "Shown: the themes of %(scope)s, computed %(when)s (China time). This view's own themes are being computed and appear after the scheduler's next run (within ten minutes).":
        "当前显示的是 %(scope)s 的主题,计算于 %(when)s(北京时间)。本视图自己的主题正在计算,将在定时任务下次运行后显示(十分钟内)。",
    "Themes are being computed and appear after the scheduler's next run (within ten minutes).":
        "主题正在计算,将在定时任务下次运行后显示(十分钟内)。",
    "The %(shown)s largest of %(total)s; the figures export has them all.": "仅显示样本最多的 %(shown)s 项(共 %(total)s 项),全部数据见指标导出。",
    "Responses counts every answer completed in the period, interviews and imported answers included; the response rate counts the answers to the invitations delivered in the period.":
        "回复数包含本期完成的全部答卷(含访谈录入和批量导入);回复率只统计本期送达邀请所得的答卷。",
}
