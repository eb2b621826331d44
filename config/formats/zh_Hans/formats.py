"""Chinese input formats that give back what they show (settings.FORMAT_MODULE_PATH; the rest is Django's).

The admin's own text date and time fields show a value in the first input format and read it back
when the form is saved. Django's Chinese formats start with minutes (09:30, 2026/12/01 09:30), so a
time of 09:30:15 was saved as 09:30:00 by a save that changed nothing; and their 年月日 formats use
%n and %j, which strptime reads as a blank and a day of the year, so 2026年12月1日 was refused.
"""

DATE_INPUT_FORMATS = [
    "%Y/%m/%d",  # 2026/12/01, as Django shows it in Chinese
    "%Y-%m-%d",
    "%Y年%m月%d日",  # 2026年12月1日
]
TIME_INPUT_FORMATS = [
    "%H:%M:%S",  # 09:30:15, shown with its seconds
    "%H:%M",
    "%H:%M:%S.%f",
]
DATETIME_INPUT_FORMATS = [
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y/%m/%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
]
