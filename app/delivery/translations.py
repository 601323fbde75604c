"""The built-in message texts: every built-in purpose in every built-in language.

Purpose "*" is the generic text, used for any purpose without a text of its own. Locale tags
are canonical BCP 47 (see templates.canonical). Each text fits two SMS segments with a
10-digit code and a 20-character application name (tests/test_templates.py measures them).

Writing notes, so that a change keeps them correct for native readers:
- pt is written so that Brazilian and European readers alike read it naturally (a tenant
  text under pt-PT or pt-BR takes precedence for that region).
- es, pt and ru say "min." and ar names the unit before the number, so that no word has to
  agree with the number of minutes (1 takes the singular; in ru and ar, 2-4 and 5-10 take
  different forms again). en, fr and de say "minutes", which reads wrong only for 1
  (OTP_TTL of 60 s or less).
- zh-Hans serves zh, zh-CN and zh-SG; zh-Hant serves zh-TW, zh-HK and zh-MO.
"""

# Cyrillic letters that look Latin are meant here: the texts are in their own scripts.
# ruff: noqa: RUF001

from __future__ import annotations

BUILT_IN: dict[str, dict[str, str]] = {
    "*": {
        "en": "{code} is your {app} verification code. It expires in {minutes} minutes.",
        "es": "{code} es tu código de verificación de {app}. Vence en {minutes} min.",
        "fr": "{code} est votre code de vérification {app}. Il expire dans {minutes} minutes.",
        "de": "{code} ist Ihr Bestätigungscode für {app}. Er ist {minutes} Minuten gültig.",
        "pt": "{app}: {code} é o seu código de verificação. Válido por {minutes} min.",
        "zh-Hans": "您的{app}验证码是{code}，{minutes}分钟内有效。",
        "zh-Hant": "您的{app}驗證碼是{code}，{minutes}分鐘內有效。",
        "ar": "{code} هو رمز التحقق الخاص بك من {app}. مدة صلاحيته بالدقائق: {minutes}.",
        "hi": "{code} आपका {app} सत्यापन कोड है। यह {minutes} मिनट में समाप्त हो जाएगा।",
        "id": "{code} adalah kode verifikasi {app} Anda. Berlaku selama {minutes} menit.",
        "ru": "{code} — ваш код подтверждения для {app}. Действует {minutes} мин.",
    },
    "login": {
        "en": "{code} is your {app} login code. It expires in {minutes} minutes.",
        "es": "{code} es tu código de acceso a {app}. Vence en {minutes} min.",
        "fr": "{code} est votre code de connexion {app}. Il expire dans {minutes} minutes.",
        "de": "{code} ist Ihr Anmeldecode für {app}. Er ist {minutes} Minuten gültig.",
        "pt": "{app}: {code} é o seu código de acesso. Válido por {minutes} min.",
        "zh-Hans": "您的{app}登录验证码是{code}，{minutes}分钟内有效。",
        "zh-Hant": "您的{app}登入驗證碼是{code}，{minutes}分鐘內有效。",
        "ar": "{code} هو رمز تسجيل الدخول الخاص بك إلى {app}. مدة صلاحيته بالدقائق: {minutes}.",
        "hi": "{code} आपका {app} लॉगिन कोड है। यह {minutes} मिनट में समाप्त हो जाएगा।",
        "id": "{code} adalah kode masuk {app} Anda. Berlaku selama {minutes} menit.",
        "ru": "{code} — ваш код для входа в {app}. Действует {minutes} мин.",
    },
    "reset_password": {
        "en": "{code} is your {app} password reset code. It expires in {minutes} minutes.",
        "es": (
            "{code} es tu código para restablecer la contraseña de {app}. Vence en {minutes} min."
        ),
        "fr": (
            "{code} est votre code {app} pour réinitialiser votre mot de passe. "
            "Il expire dans {minutes} minutes."
        ),
        "de": (
            "{code} ist Ihr Code zum Zurücksetzen des Passworts für {app}. "
            "Er ist {minutes} Minuten gültig."
        ),
        "pt": "{app}: {code} é o seu código para redefinir a senha. Válido por {minutes} min.",
        "zh-Hans": "您正在重置{app}密码，验证码是{code}，{minutes}分钟内有效。",
        "zh-Hant": "您正在重設{app}密碼，驗證碼是{code}，{minutes}分鐘內有效。",
        "ar": (
            "{code} هو رمز إعادة تعيين كلمة المرور الخاصة بك في {app}. "
            "مدة صلاحيته بالدقائق: {minutes}."
        ),
        "hi": "{code} आपका {app} पासवर्ड रीसेट कोड है। यह {minutes} मिनट में समाप्त हो जाएगा।",
        "id": (
            "{code} adalah kode untuk mengatur ulang kata sandi {app} Anda. "
            "Berlaku selama {minutes} menit."
        ),
        "ru": "{code} — ваш код для сброса пароля в {app}. Действует {minutes} мин.",
    },
}
