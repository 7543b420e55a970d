"""zh-CN texts of the questionnaires stream: skip logic on the page, routing, the builder."""
ZH = {
    "Thank you. Your answer added a question below: please answer it too.":
        "谢谢。根据您的回答,下方新增了一个问题,请一并作答。",
    "Your answer added a question below: please ask it too.": "根据该回答,下方新增了一个问题,请一并询问。",
    "Version %(n)s is published: new invitations get it.": "第 %(n)s 版已发布:新的邀请将使用此版本。",
    "Rating 1–5": "评分 1–5", "Scale 0–10": "量表 0–10", "Yes / no": "是 / 否", "One choice": "单选",
    "Several choices": "多选", "Free text": "自由填写",
    "Overall satisfaction": "总体满意度", "Service attitude": "服务态度", "Handling efficiency": "办理效率",
    "Network stability": "网络稳定性", "After-sales service": "售后服务",
    "Likelihood to recommend (NPS)": "推荐意愿(NPS)", "Problem solved": "问题已解决",
    "Wants a callback": "需要回电",
    "Order": "顺序", "Key": "标识", "lower-case letters, digits and _, starting with a letter":
        "小写字母、数字和 _,以字母开头",
    "Type": "题型", "Page": "页", "Required": "必答", "Question (Chinese)": "问题(中文)",
    "Question (English)": "问题(英文)",
    "Choices, one per line: value = 中文 / English": "选项,每行一个:值 = 中文 / English",
    "Lowest number means (Chinese)": "最低分的含义(中文)", "Lowest number means (English)": "最低分的含义(英文)",
    "Highest number means (Chinese)": "最高分的含义(中文)", "Highest number means (English)": "最高分的含义(英文)",
    "Ask only if": "仅在以下条件成立时提问", "Counts in the report as": "在报告中计为",
    "— nothing —": "— 不计入 —", "Remove this question": "删除此问题",
    "Questionnaire key": "问卷标识", "lower-case letters, digits, - and _": "小写字母、数字、- 和 _",
    "Title (Chinese)": "标题(中文)", "Title (English)": "标题(英文)",
    "Introduction (Chinese)": "开场白(中文)", "Introduction (English)": "开场白(英文)",
    "By SMS": "短信方式", "one question per message": "每条短信一个问题", "send the web link": "发送网页链接",
    "Add a question": "添加问题", "Preview": "预览", "Save as a new draft version": "另存为新的草稿版本",
    "Save and publish": "保存并发布",
    "Inquiry": "咨询", "Business request": "业务办理", "Fault repair": "故障报修", "Complaint": "投诉",
    "SMS": "短信", "Voice call": "语音电话", "any kind": "任意类型", "any channel": "任意渠道",
    "Questionnaire": "问卷", "Routing rule saved.": "分配规则已保存。", "Routing rule removed.": "分配规则已删除。",
    "Web page (phone width)": "网页(手机宽度)", "Asked only if: %(condition)s": "仅在此条件下提问:%(condition)s",
    "SMS conversation": "短信对话", "The SMS carries the link to the web page.": "短信中附带网页问卷链接。",
    "Voice call script": "语音电话脚本",
    "Not asked by phone (free text): %(question)s": "电话中不询问(自由填写):%(question)s",
    "Questionnaire builder": "问卷编辑器", "Questionnaire routing": "问卷分配",
    "Build a questionnaire": "编辑问卷",
    "Questions are asked in the order of their order numbers; leave a row's key empty to ignore it. "
    "Skip logic refers to earlier questions, e.g. resolved == no, overall <= 3, or any: overall <= 3; "
    "resolved == no.":
        "问题按顺序号依次提问;标识留空的行将被忽略。跳转条件只能引用前面的问题,例如 resolved == no、"
        "overall <= 3,或 any: overall <= 3; resolved == no。",
    "Question": "问题", "Choices, scale labels and skip logic": "选项、量表含义与跳转条件",
    "Every save is a new version; answers keep pointing to the version they answered. Managers save "
    "drafts, admins publish: new invitations get the newest published version.":
        "每次保存都会生成新版本;答卷始终指向其作答的版本。经理保存草稿,管理员发布:新的邀请使用最新发布的版本。",
    "New questionnaire": "新建问卷", "Which questionnaire each ticket kind gets": "各类工单使用的问卷",
    "Version": "版本", "Saved": "保存时间", "Questions": "问题数", "published %(when)s": "已于 %(when)s 发布",
    "draft": "草稿", "Edit (makes a new version)": "编辑(生成新版本)",
    "draft: no customer gets it until an admin publishes it": "草稿:管理员发布之前不会发送给客户",
    "Export YAML": "导出 YAML", "Preview in English": "英文预览", "Preview in Chinese": "中文预览",
    "Publish this version": "发布此版本",
    "The most specific rule wins: ticket kind and channel, then ticket kind, then channel. Without a "
    "matching rule an invitation gets the default questionnaire, %(key)s.":
        "最具体的规则优先:先看工单类型加渠道,再看工单类型,最后看渠道。没有匹配的规则时,邀请使用默认问卷 %(key)s。",
    "Remove": "删除", "No rules: every invitation gets the default questionnaire.": "暂无规则:所有邀请都使用默认问卷。",
    "Save rule": "保存规则",
}
