"""zh-CN for the hostile-input work: validation messages of filters."""
ZH = {
    "Enter a date between %(first)s and %(last)s.": "请输入 %(first)s 至 %(last)s 之间的日期。",
}
