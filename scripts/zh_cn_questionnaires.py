"""zh-CN texts of the questionnaires stream: skip logic on the page, routing, the builder."""
ZH = {
    "Thank you. Your answer added a question below: please answer it too.":
        "谢谢。根据您的回答,下方新增了一个问题,请一并作答。",
    "Your answer added a question below: please ask it too.": "根据该回答,下方新增了一个问题,请一并询问。",
}
