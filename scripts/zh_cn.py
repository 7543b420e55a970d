"""The zh-CN catalogue: `python scripts/zh_cn.py` extracts the messages and writes
translations/zh/LC_MESSAGES/messages.po from the table below (untranslated ids are listed)."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
ZH = {
    "Invitation delay after handling (hours)": "处理后多久发送邀请(小时)",
    "Invitations allowed from (hour, customer local time)": "允许发送邀请的开始时间(客户当地时间,时)",
    "Invitations allowed until (hour)": "允许发送邀请的结束时间(时)",
    "At most one invitation per customer every (days)": "每位客户最多每隔多少天邀请一次(天)",
    "Reminder if not answered after (hours, 0 = none)": "未作答多久后提醒(小时,0 = 不提醒)",
    "Survey link expires after (days)": "问卷链接有效期(天)",
    "Ticket kinds that get a survey": "发送满意度调查的工单类型",
    "Ticket kinds that get a post-handling callback (complaints always do)": "需要办结回访的工单类型(投诉始终回访)",
    "Channel order when the customer has no preference": "客户无偏好时的渠道顺序",
    "Post-handling callback within (hours)": "办结回访时限(小时)",
    "Complaint accepted within (hours)": "投诉受理时限(小时)",
    "Complaint investigated within (hours)": "投诉调查时限(小时)",
    "Complaint result fed back within (working days)": "投诉结果反馈时限(工作日)",
    "Unhappy respondent follow-up within (hours)": "不满意客户跟进时限(小时)",
    "Holidays (one ISO date per line)": "节假日(每行一个日期,如 2026-10-01)",
    "Call attempts before 'unreachable'": "判定“无法联系”前的呼叫次数",
    "Hours between attempts": "两次呼叫的间隔(小时)",
    "Escalate again after (hours)": "再次升级的间隔(小时)",
    "Supervisors notified of escalations (e-mails)": "接收升级通知的主管(邮箱)",
    "Managers who receive scheduled reports (e-mails)": "接收定期报告的经理(邮箱)",
    "Anonymise responses older than (months, 0 = never)": "匿名化多少个月前的答卷(月,0 = 从不)",
    "must be later than the start hour": "必须晚于开始时间",
    "use sms, voice and email, separated by commas": "请填写 sms、voice、email,用逗号分隔",
    "%(value)s is not a date like 2026-10-01": "%(value)s 不是形如 2026-10-01 的日期",
    "%(value)s is not an e-mail address": "%(value)s 不是有效的邮箱地址",
    "E-mail": "邮箱", "Name": "姓名", "Role": "角色", "Initial password": "初始密码",
    "Which system uses this key": "使用此密钥的系统",
    "Definition (YAML)": "问卷定义(YAML)",
    "Rules saved.": "规则已保存。", "Nothing changed.": "没有变化。", "Account created.": "账号已创建。",
    "You cannot deactivate yourself.": "不能停用自己的账号。", "Key revoked.": "密钥已吊销。",
    "Saved as version %(n)s.": "已保存为第 %(n)s 版。",
    "Reached": "已接通", "No answer": "无人接听", "Busy": "占线", "Wrong number": "号码错误",
    "Call back later": "稍后回电", "Resolved": "已解决", "Explained / advised": "已解释/已指导",
    "Compensated": "已补偿", "Transferred to another team": "已转其他部门", "Not resolved": "未解决",
    "Customer declined": "客户拒绝",
    "Post-handling callback": "办结回访", "Complaint: accept": "投诉:受理",
    "Complaint: investigate": "投诉:调查", "Complaint: feed back result": "投诉:结果反馈",
    "Unhappy respondent follow-up": "不满意客户跟进",
    "Outcome": "结果", "Call back at (customer local time)": "回电时间(客户当地时间)", "Notes": "备注",
    "Resolution": "处理结论", "Was the issue resolved?": "问题是否已解决?", "Yes": "是", "No": "否",
    "Root cause": "根本原因", "Kind": "类型", "All kinds": "全部类型", "Tier": "级别", "All tiers": "全部级别",
    "Region": "地区", "All regions": "全部地区",
    "Task claimed: it is yours now.": "已领取任务,现在由您负责。",
    "Someone else has claimed this task already.": "该任务已被其他人领取。",
    "Call recorded.": "通话已记录。", "Task closed.": "任务已关闭。",
    "Thank you for your feedback! Your answers have been recorded.": "感谢您的反馈!您的回答已记录。",
    "You will receive no more surveys from us. Reply START to receive them again.":
        "您将不再收到我们的调查。回复“开始”可重新接收。",
    "You will receive our surveys again. Reply STOP to opt out.": "您将重新收到我们的调查。回复退订可取消。",
    "Huifang customer surveys. For help call 10000. Reply STOP to opt out.":
        "客户满意度回访。如需帮助请拨打 10000。回复退订可取消。",
    "We have no open survey for this number. For help call 10000.":
        "此号码目前没有待填写的问卷。如需帮助请拨打 10000。",
    "Please answer with this link: %(url)s": "请通过此链接作答:%(url)s",
    "Reply with a number from %(low)s to %(high)s.": "请回复 %(low)s 到 %(high)s 之间的数字。",
    "Reply 1 for yes, 2 for no.": "是请回复 1,否请回复 2。",
    "Reply with one of: %(values)s": "请回复以下之一:%(values)s",
    "Reply with your comment, or 0 to skip.": "请回复您的意见,回复 0 跳过。",
    "Hello %(name)s,": "%(name)s 您好,", "Hello,": "您好,",
    "Reminder: %(title)s": "提醒:%(title)s",
    "Reply STOP to opt out.": "回复退订不再接收。",
    "%(greeting)s thank you for contacting us. Please rate our service (1 minute): %(url)s":
        "%(greeting)s感谢您联系我们。请花 1 分钟评价本次服务:%(url)s",
    "%(greeting)s a reminder: your feedback helps us improve. %(url)s":
        "%(greeting)s温馨提醒:您的反馈能帮助我们改进服务。%(url)s",
    "The message is queued again.": "消息已重新排队。",
    "Press a number from %(low)s to %(high)s, then the hash key.": "请按 %(low)s 到 %(high)s 之间的数字,然后按井号键。",
    "Press 1 for yes, 2 for no.": "是请按 1,否请按 2。",
    "Press %(n)s for %(label)s.": "%(label)s请按 %(n)s。",
    "Thank you for your feedback. Goodbye.": "感谢您的反馈,再见。",
    "Sorry, that was not a valid answer.": "抱歉,您的输入无效。",
    "Please log in to see this page.": "请登录后查看此页面。", "Password": "密码", "Log in": "登录",
    "Wrong e-mail or password.": "邮箱或密码错误。",
    "Please answer this question.": "请回答此问题。",
    "Please choose a number from %(low)s to %(high)s.": "请选择 %(low)s 到 %(high)s 之间的数字。",
    "Please answer yes or no.": "请回答是或否。", "Please choose one of the options.": "请选择一个选项。",
    "Please keep it under %(max)s characters.": "请不要超过 %(max)s 个字符。",
    "This answer is not valid.": "此回答无效。",
    "Customer id (optional)": "客户编号(可选)", "Ticket kind": "工单类型",
    "Agent who handled the ticket": "处理工单的客服", "No customer with this id.": "没有此编号的客户。",
    "Interview saved as response #%(id)s.": "访谈已保存为答卷 #%(id)s。",
    "Huifang": "回访", "Callbacks": "回访任务", "Interview": "访谈录入", "Overdue tasks": "超时任务", "Overdue": "已超时",
    "Dashboard": "仪表盘", "Reports": "报告", "Outbox": "发件箱", "Admin": "管理", "Log out": "退出",
    "This page does not exist.": "此页面不存在。", "You do not have access to this page.": "您无权访问此页面。",
    "Too many attempts. Please wait a minute and try again.": "尝试次数过多,请一分钟后再试。",
    "This form has expired. Please go back, reload the page and try again.": "表单已过期,请返回并刷新页面后重试。",
    "The request could not be understood. Please go back and try again.": "无法处理该请求,请返回重试。",
    "Something went wrong on our side. Please try again later.": "系统出现问题,请稍后再试。",
    "Previous": "上一页", "Page %(page)s of %(pages)s": "第 %(page)s 页,共 %(pages)s 页", "Next": "下一页",
    "Rules": "规则", "Questionnaires": "问卷", "Staff": "员工", "API keys": "API 密钥", "Audit log": "审计日志",
    "Copy this key now: it is not shown again.": "请立即复制此密钥,它不会再次显示。",
    "Prefix": "前缀", "Created": "创建时间", "Last used": "最近使用", "revoked": "已吊销", "Revoke": "吊销",
    "Create key": "创建密钥", "Time": "时间", "Who": "操作人", "Action": "操作", "Target": "对象", "Details": "详情",
    "version": "版本", "versions": "个版本", "latest": "最新",
    "Saving a changed definition creates a new version; responses keep pointing to the version they answered.":
        "保存修改后的定义会创建新版本;已有答卷仍对应其作答时的版本。",
    "Save as new version": "保存为新版本",
    "Defaults follow the service guide: invitation 2 h after handling between 08:00 and 21:00, at most one per 30 days; callback within 48 h; complaints accepted within 24 h, investigated within 72 h, result within 3 working days.":
        "默认值来自服务指南:处理后 2 小时、08:00–21:00 之间发送邀请,每 30 天最多一次;48 小时内回访;投诉 24 小时内受理、72 小时内完成调查、3 个工作日内反馈结果。",
    "Save rules": "保存规则", "Staff accounts": "员工账号", "Last login": "最近登录", "Deactivate": "停用",
    "Activate": "启用", "New account": "新建账号", "Create": "创建", "Staff login": "员工登录",
    "overdue": "已超时", "until": "至", "Claim": "领取", "Customer": "客户", "Deadline": "时限", "State": "状态",
    "Owner": "负责人", "Nothing here.": "暂无内容。", "Callback work list": "回访工作列表", "My tasks": "我的任务",
    "Filter": "筛选", "Due first": "按时限排序", "Overdue and escalated tasks": "超时及升级任务", "Task": "任务",
    "opted out of surveys": "已退订调查", "Ticket": "工单", "agent": "客服",
    "The answers that opened this task": "触发此任务的回答", "Claim this task": "领取此任务",
    "Record a call": "记录通话", "Save call": "保存通话", "Close the task": "关闭任务", "Close task": "关闭任务",
    "Release to the pool": "退回任务池", "Calls": "通话记录", "No calls yet.": "尚无通话。", "History": "历史",
    "Earlier survey answers": "以往答卷", "overall": "总体", "Earlier callbacks": "以往回访",
    "Message": "消息", "To": "收件人", "From": "发件人", "Sent": "发送时间", "Attempts": "尝试次数",
    "Play this call in the simulator": "在模拟器中播放此通话", "Reply in the SMS simulator": "在短信模拟器中回复",
    "Retry now": "立即重试", "Messages": "消息",
    "Every SMS, call and e-mail Huifang sends or receives. Without provider credentials, messages stay here (transport: outbox) instead of going out.":
        "回访系统收发的所有短信、电话和邮件。未配置服务商凭据时,消息保存在此(传输方式:outbox),不会真正发出。",
    "Channel": "渠道", "Purpose": "用途", "To / from": "收/发", "Text": "内容", "Simulator": "模拟器",
    "SMS simulator": "短信模拟器", "Voice keypad simulator": "语音按键模拟器", "You play the customer": "您扮演客户",
    "Invitation state": "邀请状态", "The call is finished: the answers are stored.": "通话已结束,回答已保存。",
    "Reply as the customer": "以客户身份回复", "Keys pressed, e.g. 4": "按键,如 4", "Send": "发送",
    "A friendly reminder: we would still love to hear from you.": "温馨提醒:我们仍然期待您的反馈。",
    "The link is personal and works until %(date)s.": "此链接仅供您本人使用,有效期至 %(date)s。",
    "Unsubscribe": "退订", "Answer here (about one minute):": "点此作答(约一分钟):",
    "Do not want these e-mails? Unsubscribe:": "不想再收到此类邮件?退订:",
    "Enter an interview": "录入访谈", "Stored with channel 'interview' and your name as the interviewer.":
        "以“访谈”渠道保存,并记录您为访谈员。",
    "Save interview": "保存访谈", "Back": "上一步", "Submit": "提交",
    "Your answers are saved after each page: you can come back to this link later.":
        "每页的回答都会自动保存,您可以稍后通过此链接继续作答。",
    "Thank you": "谢谢", "Thank you for your feedback!": "感谢您的反馈!",
    "Your answers have been recorded. They help us serve you better.": "您的回答已记录,这将帮助我们更好地为您服务。",
    "We will call you back within 24 hours.": "我们将在 24 小时内给您回电。", "Survey": "问卷",
    "Thank you, you have already answered": "谢谢,您已经作答过了",
    "This survey link has been used. Each link can be answered once.": "此问卷链接已使用,每个链接只能作答一次。",
    "This survey has closed": "此问卷已关闭", "The link has expired. Thank you for your interest.": "链接已过期,感谢您的关注。",
    "Survey not found": "未找到问卷", "Please check that you opened the whole link from your message.":
        "请确认您打开的是消息中的完整链接。",
    "You are unsubscribed": "您已退订", "You will receive no more surveys from us, by any channel.":
        "您将不会再通过任何渠道收到我们的调查。",
    "Unsubscribe from surveys?": "确认退订调查?", "Yes, send me no more surveys": "是的,不再给我发送调查",
    'key strength': '关键优势',
    'key weakness': '关键短板',
    'secondary strength': '次要优势',
    'secondary weakness': '次要短板',
    'By channel': '按渠道',
    'By ticket kind': '按工单类型',
    'By region': '按地区',
    'By agent': '按客服',
    'Satisfaction index': '满意度指数',
    'CSAT 95% interval': 'CSAT 95% 置信区间',
    'Importance (correlation with overall satisfaction)': '重要性(与总体满意度的相关系数)',
    'Performance (index 0–100)': '表现(指数 0–100)',
    'improve first: important, low score': '优先改进:重要且得分低',
    'keep: important, high score': '保持:重要且得分高',
    'staff service attitude': '客服服务态度',
    'handling efficiency': '业务办理效率',
    'network and system stability': '网络与系统稳定性',
    'after-sales service': '售后服务',
    'service attitude': '服务态度',
    'speed and waiting': '速度与等待',
    'network stability': '网络稳定性',
    'billing and charges': '计费与收费',
    'after-sales and repairs': '售后与维修',
    'post-handling callbacks (48 h)': '办结回访(48 小时)',
    'complaint acceptance (24 h)': '投诉受理(24 小时)',
    'complaint investigation (72 h)': '投诉调查(72 小时)',
    'complaint result feedback (3 working days)': '投诉结果反馈(3 个工作日)',
    'follow-up of unhappy respondents (24 h)': '不满意客户跟进(24 小时)',
    'coach front-line staff on courtesy and patience, and review recorded calls with low attitude scores': '加强一线客服礼貌与耐心的辅导,复盘态度评分低的通话录音',
    'shorten handling time: fewer hand-offs, first-contact resolution, clear time promises': '缩短办理时长:减少转派,提高首次解决率,明确时限承诺',
    'work with network operations on the regions and faults behind the low stability scores': '与网络运维部门协作,处理稳定性评分低的地区和故障',
    'tighten after-sales follow-up: repair appointments kept and a callback after every visit': '加强售后跟进:按约上门维修,每次上门后回访',
    'Improve %(dimension)s: %(action)s.': '提升%(dimension)s:%(action)s。',
    'Key driver %(key)s: priority %(priority)s = importance %(importance)s × (100 − performance %(index)s).': '关键驱动因素 %(key)s:优先级 %(priority)s = 重要性 %(importance)s × (100 − 表现 %(index)s)。',
    'Find out what changed in %(period)s: CSAT fell from %(before)s%% to %(after)s%%.': '查明 %(period)s 发生了什么变化:CSAT 从 %(before)s%% 降至 %(after)s%%。',
    'Trend: two-proportion z-test on CSAT, p = %(p)s < 0.05.': '趋势:CSAT 双比例 z 检验,p = %(p)s < 0.05。',
    'Meet the deadline of %(task)s: add staff at peak times and act on the escalations.': '确保%(task)s按时完成:高峰期增加人手,及时处理升级任务。',
    'Callback SLA %(kind)s: %(on_time)s of %(total)s on time (%(sla)s%%, target %(target)s%%).': '回访时限 %(kind)s:%(total)s 个中 %(on_time)s 个按时(%(sla)s%%,目标 %(target)s%%)。',
    'Tackle the most frequent complaint, “%(category)s”, at its root cause.': '从根源上解决最常见的投诉“%(category)s”。',
    'Complaint categories: %(category)s is %(count)s of %(total)s complaints.': '投诉分类:%(total)s 件投诉中 %(category)s 占 %(count)s 件。',
    'Read what customers write about %(theme)s: it is the most frequent comment theme.': '关注客户关于%(theme)s的意见:这是最常见的评论主题。',
    'Comment themes: %(theme)s in %(count)s of %(comments)s comments.': '评论主题:%(comments)s 条评论中 %(count)s 条提到 %(theme)s。',
    'Group by': '分组',
    'week': '周',
    'month': '月',
    'quarter': '季度',
    'Agent': '客服',
    'must not be before the start': '不能早于开始日期',
    'at most three years at a time': '一次最多三年',
    'overall 4–5': '总体评分 4–5',
    'Responses': '答卷',
    'Response rate': '回复率',
    'Period': '期间',
    'Change': '变化',
    'low sample': '样本少',
    'significant': '显著',
    'not significant': '不显著',
    'Rank': '排名',
    'Dimension': '维度',
    'Mean (1–5)': '均值(1–5)',
    'Performance (index)': '表现(指数)',
    'Importance (r)': '重要性(r)',
    'Priority': '优先级',
    'Quadrant': '象限',
    'Judged': '可评估',
    'On time': '按时',
    'below 90%%': '低于 90%%',
    'No callback deadline fell in this period.': '本期没有到期的回访任务。',
    'No comments in this period.': '本期没有评论。',
    'Why': '依据',
    'Nothing stands out: every figure is within its target.': '没有突出问题:各项指标均在目标之内。',
    'Report archive': '报告存档',
    'Monthly and quarterly reports are generated by the scheduler and e-mailed to the managers in the rules.': '月度和季度报告由调度程序生成,并通过邮件发送给规则中设置的经理。',
    'Language': '语言',
    'Customer satisfaction': '客户满意度',
    'Show': '查看',
    'Figures': '指标',
    'PDF report': 'PDF 报告',
    'Trend': '趋势',
    'Improvement suggestions': '改进建议',
    'Key drivers': '关键驱动因素',
    'Callback deadlines (SLA)': '回访时限(SLA)',
    'Comment themes': '评论主题',
    'Customer satisfaction report': '客户满意度报告',
    'grouped by %(period)s': '按%(period)s分组',
    'generated': '生成于',
    '* marks a significant change of CSAT from the previous period (two-proportion z-test, p < 0.05); hollow points have fewer than 30 responses.': '* 表示 CSAT 较上期有显著变化(双比例 z 检验,p < 0.05);空心点表示答卷少于 30 份。',
    'Breakdowns': '细分',
    'Complaint categories': '投诉分类',
    'Category': '类别',
    'Complaints': '投诉数',
    'Method notes': '方法说明',
    'Item index: a 1–5 score s maps to (s − 1) / 4 × 100.': '单项指数:1–5 分的得分 s 换算为 (s − 1) / 4 × 100。',
    "Satisfaction index (0–100): the mean over responses of each response's weighted mean of the item indexes of attitude, efficiency, stability and after-sales (equal weights unless the questionnaire sets others); a response's missing items are left out of its mean. n = %(n)s.": '满意度指数(0–100):每份答卷中服务态度、办理效率、系统稳定性和售后服务各单项指数的加权平均(除非问卷另行设置,权重相等),再对所有答卷取平均;答卷中未回答的项目不计入。n = %(n)s。',
    'CSAT is top-2-box: the share of responses with overall satisfaction 4 or 5, with its 95%% Wilson score interval. n = %(n)s.': 'CSAT 采用“前两档”口径:总体满意度为 4 或 5 的答卷占比,并给出 95%% Wilson 置信区间。n = %(n)s。',
    'NPS: %% of 9–10 minus %% of 0–6 on the 0–10 recommendation question. n = %(n)s.': 'NPS:推荐意愿(0–10)中 9–10 分占比减去 0–6 分占比。n = %(n)s。',
    'Response rate: completed responses / invitations delivered, over the invitations sent in the period.': '回复率:本期发出的邀请中,完成的答卷数 / 已送达的邀请数。',
    'Trend: a change is significant when a two-proportion z-test on CSAT against the previous period gives p < 0.05; periods with fewer than 30 responses are flagged as low sample.': '趋势:与上期相比,CSAT 双比例 z 检验 p < 0.05 时视为显著变化;答卷少于 30 份的期间标记为样本少。',
    "Key drivers: importance is the Pearson correlation of a dimension's score with overall satisfaction; performance is its mean index; priority = importance × (100 − performance). Correlated dimensions inflate each other's importance: read it as a ranking, not as an effect size.": '关键驱动因素:重要性为该维度得分与总体满意度的 Pearson 相关系数;表现为其平均指数;优先级 = 重要性 × (100 − 表现)。相互相关的维度会抬高彼此的重要性,请将其视为排序而非效应大小。',
    'Callback SLA: tasks whose deadline fell in the period and that can be judged (met, or past due); on time when the first contact (or, for investigation and feedback, the closure) came before the deadline.': '回访时限:时限落在本期且可评估(已完成或已过期)的任务;首次联系(调查和反馈类任务为关闭)早于时限即为按时。',
    'Dates are in %(tz)s.': '日期按 %(tz)s 时区。',
    "Your phone will ring: answer it to be connected to the customer.": "您的电话将响起,接听后即可接通客户。",
    "Call via Twilio": "通过 Twilio 呼叫",
    "Phone for click-to-call (E.164, optional)": "一键外呼使用的电话(E.164 格式,可选)",
    "open": "待处理", "claimed": "已领取", "in progress": "处理中", "waiting to call back": "等待回电",
    "escalated": "已升级", "done": "已完成", "unreachable": "无法联系",
    "The customer's tickets": "客户的工单", "this task": "本任务",
}


# A questionnaire's validation messages are written as DefinitionError("...", where=...) and
# Phrase("..."): surveys/definition.py translates them where they are shown.
QUESTIONNAIRE_ERRORS = ("-k", "DefinitionError", "-k", "Phrase")


def _table() -> dict[str, str]:
    """This file's table plus each `scripts/zh_cn_<topic>.py`'s ZH, one file per area of work,
    so parallel changes to the catalogue do not collide."""
    import importlib.util
    table = dict(ZH)
    for path in sorted(Path(__file__).parent.glob("zh_cn_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        table.update(module.ZH)
    return table


def main(check: bool = False) -> int:
    """Writes the catalogue; with --check, only says whether every message has its translation."""
    pot = ROOT / "translations" / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", *QUESTIONNAIRE_ERRORS, "--ignore-dirs=.venv tests bench migrations", "-o", str(pot), str(ROOT)],
                   check=True, capture_output=True)
    with pot.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    missing, table = [], _table()
    for message in catalog:
        if message.id:
            message.string = table.get(message.id, "")
            if not message.string:
                missing.append(message.id)
    out = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
    if not check:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as fh:
            # No source locations: they name the worktree and change with every edit, so parallel
            # changes to the catalogue would conflict on lines no translator reads.
            write_po(fh, catalog, width=100, omit_header=False, no_location=True)
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
