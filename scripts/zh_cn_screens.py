"""zh-CN texts of the "screens" work: code labels (core/labels.py), staff pages, the survey scale."""
ZH = {
    # core/labels.py: every code a person may read
    "Inquiry": "咨询", "Service request": "业务办理", "Fault": "故障报修", "Complaint": "投诉",
    "created": "已创建", "released to the pool": "已退回任务池", "back on the list": "重新回到列表",
    "closed": "已关闭", "closed as unreachable": "无法联系,已关闭", "call placed via Twilio": "已通过 Twilio 外呼",
    "Web": "网页", "SMS": "短信", "Voice call": "语音电话", "Interviewer": "访员录入",
    "outbox": "发件箱", "queued": "排队中", "sending": "发送中", "sent": "已发送", "delivered": "已送达",
    "undelivered": "未送达", "failed": "失败", "received": "已收到",
    "survey invitation": "调查邀请", "reminder": "提醒", "reply": "回复", "customer's answer": "客户回复",
    "escalation notice": "升级通知", "scheduled report": "定期报告",
    "scheduled": "待发送", "started": "作答中", "completed": "已完成", "expired": "已过期", "skipped": "已跳过",
    "administrator": "管理员", "callback agent": "回访专员", "manager": "经理",
    "monthly": "月度", "quarterly": "季度", "on demand": "临时生成",
    "signed in": "登录", "changed the rules": "修改规则", "created an account": "创建账号",
    "activated an account": "启用账号", "deactivated an account": "停用账号", "created an API key": "创建 API 密钥",
    "revoked an API key": "吊销 API 密钥", "saved a questionnaire version": "保存问卷新版本",
    "anonymised old responses": "匿名化旧答卷", "retried a message": "重发消息",
    "viewed a customer's phone number": "查看客户电话号码", "recorded a call": "记录通话",
    "closed a task": "关闭任务", "entered an interview": "录入访谈", "exported responses": "导出答卷",
    "generated a report": "生成报告", "signed out": "退出登录", "changed the password": "修改密码",
    "set up two-step sign-in": "设置两步验证登录",
    "attached a file to a complaint": "上传投诉附件", "downloaded a complaint file": "下载投诉附件",
    "completed a complaint stage": "完成投诉处理环节", "extended a complaint deadline": "延长投诉时限",
    "reopened a complaint": "重新打开投诉", "sent a complaint's written result": "发送投诉书面处理结果",
    "recorded a complaint re-check": "记录投诉复核", "exported the complaint ledger": "导出投诉台账", "edited a complaint's content": "编辑投诉内容", "created an improvement action": "创建改进行动",
    "changed an improvement action's state": "更新改进行动状态", "failed sign-in": "登录失败", ", ": "、",
    # callbacks
    "Only my tasks": "只看我的任务", "%(n)s tasks": "共 %(n)s 个任务", "tier %(n)s": "第 %(n)s 级",
    "only a claimed task can be released": "只有已领取的任务才能退回",
    "claim the task before working on it": "请先领取任务再处理",
    "choose one of the outcomes in the list": "请从列表中选择通话结果",
    "give a future time to call back": "请填写一个将来的回电时间",
    "choose one of the resolutions in the list": "请从列表中选择处理结论",
    "record the call that reached the customer before closing": "关闭前请先记录接通客户的通话",
    "click-to-call needs Twilio settings; call the number by hand": "一键外呼需要配置 Twilio;请手动拨打该号码",
    "add your own phone number to your account to use click-to-call": "请先在账号中添加您自己的电话号码,才能使用一键外呼",
    "Twilio could not place the call: %(error)s": "Twilio 未能发起呼叫:%(error)s",
    "[Huifang] Task #%(id)s escalated to tier %(tier)s": "[回访 Huifang] 任务 #%(id)s 已升级至第 %(tier)s 级",
    "Callback task #%(id)s (%(kind)s) was due at %(due)s and is overdue: it is now at tier %(tier)s.":
        "回访任务 #%(id)s(%(kind)s)的时限为 %(due)s,现已超时,升级至第 %(tier)s 级。",
    "Tiers: every task starts at tier 1, with any agent. A task past its deadline is escalated to tier 2 (team leader) and, if still overdue, to tier 3 (supervisor); each escalation takes it from its owner and e-mails the supervisors.":
        "级别说明:任务从第 1 级开始,任何回访专员都可领取;超过时限的任务升级到第 2 级(班组长),仍超时则升级到第 3 级(主管);每次升级都会收回任务并邮件通知主管。",
    "Waiting to call back: the task is back on the list at %(when)s (customer local time).":
        "等待回电:任务将于 %(when)s(客户当地时间)重新回到列表。",
    "Until then it stays yours: you may call again, record, close or release it.":
        "在此之前任务仍由您负责:您可以再次呼叫、记录通话、关闭或退回任务。",
    "This task is closed (%(state)s) on %(when)s.": "该任务已于 %(when)s 关闭(%(state)s)。",
    "%(name)s is working on this task.": "%(name)s 正在处理该任务。",
    # channels
    "skipped: a call cannot take a written comment": "已跳过:电话中无法填写文字意见",
    "skipped: no valid key after asking twice": "已跳过:询问两次均未按有效按键",
    "Recipient": "收件人", "Sender": "发件人", "What the call says first:": "电话接通后首先播报:",
    "All states": "全部状态",
    "Every SMS, call and e-mail Huifang sends or receives. Without provider credentials, messages stay here (transport: outbox) instead of going out.":
        "回访系统收发的所有短信、电话和邮件。未配置服务商凭据时,消息保存在此(传输方式:发件箱),不会真正发出。", "All channels": "全部渠道",
    # reports
    "[Huifang] %(kind)s satisfaction report %(start)s – %(end)s": "[回访 Huifang] %(kind)s满意度报告 %(start)s 至 %(end)s",
    "Attached: the %(kind)s customer satisfaction report, %(start)s – %(end)s.":
        "附件为%(kind)s客户满意度报告(%(start)s 至 %(end)s)。",
    "Start date": "开始日期", "End date": "结束日期", "All agents": "全部坐席", "95%% interval": "95%% 置信区间",
    "Not enough answers to suggest anything: %(n)s in this period, at least 30 are needed.":
        "答卷不足,暂无改进建议:本期 %(n)s 份,至少需要 30 份。",
    # admin
    "No API keys yet. Systems may also use the keys in HUIFANG_API_KEYS. Create one below for each system that reports tickets.":
        "还没有 API 密钥。系统也可以使用 HUIFANG_API_KEYS 中配置的密钥。请在下方为每个上报工单的系统创建一个密钥。",
    # survey
    "Very dissatisfied": "非常不满意", "Dissatisfied": "不满意", "Neutral": "一般", "Satisfied": "满意",
    "Very satisfied": "非常满意", "Not at all likely": "完全不可能", "Extremely likely": "非常可能",
    "Previous page": "上一页", "Next page": "下一页",
    "published a questionnaire": "发布问卷", "routed tickets to a questionnaire": "设置问卷分配规则",
    "removed a questionnaire route": "删除问卷分配规则",
    "complaint result": "投诉处理结果", "complaint re-check": "投诉复核", "overdue action reminder": "改进行动逾期提醒",
    "When invitations go out, callback deadlines, retries, escalation, report recipients.": "邀请发送时间、回访时限、重呼、升级和报告收件人。",
    "The survey's questions, as versioned definitions.": "调查问卷的题目,按版本保存。",
    "Accounts and roles of the people who use Huifang.": "使用回访系统人员的账号和角色。",
    "Keys for the systems that report tickets or read results.": "上报工单或读取结果的系统所用的密钥。",
    "Addresses that receive events as they happen.": "实时接收事件推送的地址。",
    "Who did what, and when.": "谁在何时做了什么。",
    "Export or erase one customer's data.": "导出或删除某位客户的数据。",
    "added a webhook endpoint": "添加 Webhook 接收端", "switched a webhook endpoint on or off": "启用或停用 Webhook 接收端",
    "redelivered a webhook event": "重新推送 Webhook 事件",
    "reset someone's two-step sign-in": "重置他人的两步验证登录", "exported a customer's data": "导出客户数据",
    "erased a customer's data": "删除客户数据", "restored a backup": "恢复备份",
}
