"""zh-CN for staff accounts: login, two-step login, passwords, privacy requests, backups."""
ZH = {
    "You were logged out after %(n)s minutes without activity.": "您已 %(n)s 分钟无操作,已自动退出登录。",
    "Code from your authenticator app, or a recovery code": "身份验证器应用中的验证码,或恢复码",
    "Continue": "继续",
    "Current password": "当前密码",
    "New password": "新密码",
    "New password again": "再次输入新密码",
    "The two new passwords differ.": "两次输入的新密码不一致。",
    "Change password": "修改密码",
    "You used a recovery code; %(n)s are left.": "您使用了一个恢复码,还剩 %(n)s 个。",
    "This code is wrong or was used already.": "验证码错误或已使用过。",
    "This code is wrong: check the time on your phone and try the next one.": "验证码错误:请检查手机时间,并输入下一个验证码。",
    "The current password is wrong.": "当前密码错误。",
    "Password changed. Your other sessions have ended.": "密码已修改,您在其他地方的登录已全部退出。",
    "This is one of the 10 most common passwords.": "这是最常见的 10 个密码之一。",
    "This is one of the 100 most common passwords.": "这是最常见的 100 个密码之一。",
    "This is a very common password.": "这是非常常见的密码。",
    "This is similar to a commonly used password.": "这与常用密码相似。",
    "A word by itself is easy to guess.": "单个词语很容易被猜到。",
    "Names by themselves are easy to guess.": "单独的姓名很容易被猜到。",
    "Rows of keys on the keyboard are easy to guess.": "键盘上连续的按键很容易被猜到。",
    "Repeated characters are easy to guess.": "重复的字符很容易被猜到。",
    "Sequences like abc or 6543 are easy to guess.": "abc 或 6543 这样的序列很容易被猜到。",
    "Years and dates are easy to guess.": "年份和日期很容易被猜到。",
    "A password needs at least %(n)s characters.": "密码至少需要 %(n)s 个字符。",
    "A password may have at most %(n)s characters.": "密码最多 %(n)s 个字符。",
    "This password is too easy to guess (strength %(score)s of 4, at least %(min)s needed).":
        "此密码太容易被猜到(强度 %(score)s/4,至少需要 %(min)s)。",
    "Use a few uncommon words, or a phrase only you would think of.": "请使用几个不常见的词,或只有您会想到的短语。",
    "Second step of login": "登录第二步",
    "Enter the six-digit code your authenticator app shows for Huifang. Lost your phone? Enter one of your recovery codes instead.":
        "请输入身份验证器应用为“回访”显示的六位验证码。手机丢失?请改为输入一个恢复码。",
    "Set up two-step login": "设置两步登录",
    "Admins and managers confirm each login with a code from an authenticator app (for example Microsoft Authenticator, Google Authenticator or FreeOTP). Scan this QR code with the app:":
        "管理员和经理每次登录都需用身份验证器应用(如 Microsoft Authenticator、Google Authenticator 或 FreeOTP)中的验证码确认。请用该应用扫描此二维码:",
    "Cannot scan? Add an account by hand with this key (time-based, six digits, 30 seconds):":
        "无法扫描?请用此密钥手动添加账户(基于时间,六位数字,30 秒):",
    "Confirm": "确认",
    "Choose a password that is hard to guess: a few uncommon words work well. Your other sessions end when it changes.":
        "请选择难以猜测的密码:几个不常见的词就很好。密码修改后,您在其他地方的登录将全部退出。",
    "Recovery codes": "恢复码",
    "Two-step login is on": "两步登录已开启",
    "Keep these recovery codes somewhere safe, away from your phone. Each works once, in place of a code from the app. They are shown only now.":
        "请将这些恢复码保存在安全的地方,不要与手机放在一起。每个恢复码只能使用一次,可代替应用中的验证码。它们只显示这一次。",
    "I have saved them, continue": "我已保存,继续",
}
