"""Comment analytics in Chinese and English: jieba segmentation with a telecom user dictionary,
a sentiment lexicon (zh) and VADER (en), and themes discovered from the comments themselves:
TF-IDF vectors clustered with k-means (k chosen by silhouette), each theme labelled by its top
terms, with its size, trend, mean sentiment and representative quotes, personal data masked."""
from __future__ import annotations

import functools
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jieba
import numpy as np
from scipy.sparse import diags
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

MIN_COMMENTS = 12          # fewer comments than this: no clustering, nothing to discover
MAX_THEMES = 8
SAMPLE = 3000              # the most recent comments of the scope are clustered

# Words of the trade jieba would split wrongly (the guide's vocabulary).
TELECOM_TERMS = ("宽带", "套餐", "信号", "携号转网", "网速", "断网", "掉线", "话费", "扣费", "账单",
                 "营业厅", "客服", "装机", "维修", "上门", "师傅", "光猫", "流量", "资费", "售后",
                 "投诉", "回访", "办理", "退订", "销户", "停机", "复机", "5G", "4G", "WiFi")
_ZH_STOP_WORDS = """的 了 是 我 你 他 她 它 们 在 也 和 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 这 那 这个
那个 这些 那些 之 为 对 把 被 让 给 但 还 又 很 太 非常 比较 有点 一些 一直 已经 就是 还是 可以 能 会 要 想
吧 吗 呢 啊 哦 嗯 呀 啦 得 地 么 什么 怎么 如何 因为 所以 如果 然后 而且 不过 希望 觉得 感觉 真的 一下 一次
每次 每天 经常 总是 再 才 又 再次 次 个 位 下 上 中 后 前 里 时候 的话 问题 请 谢谢"""
ZH_STOP = frozenset(_ZH_STOP_WORDS.split())
POSITIVE_ZH = ("满意", "好", "很好", "很快", "不错", "耐心", "热情", "礼貌", "专业", "及时", "快", "迅速", "高效",
               "解决", "感谢", "谢谢", "方便", "周到", "细心", "稳定", "清楚", "点赞", "赞", "棒", "准时")
NEGATIVE_ZH = ("慢", "差", "很差", "太慢", "不满", "不满意", "投诉", "断网", "掉线", "断线", "故障", "等待",
               "拖延", "不耐烦", "敷衍", "扣费", "乱扣", "不明", "看不懂", "失望", "麻烦", "卡顿", "贵",
               "错误", "错", "推诿", "不稳定", "弱", "没人", "久", "很久", "生气", "垃圾", "坑")
NEGATORS = ("不", "没", "没有", "未", "别", "不是", "并不", "毫不")
# scikit-learn's English stop words include words of this trade ("bill", "call").
EN_STOP = ENGLISH_STOP_WORDS - {"bill", "call", "system", "back", "fire", "found"}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]+")
PHONE = re.compile(r"(?<!\d)(\+?86)?(1[3-9]\d)\d{4}(\d{4})(?!\d)")
LONG_DIGITS = re.compile(r"(?<!\d)(\d{3})\d{4,}(\d{2})(?!\d)")
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
HONORIFIC = re.compile(r"[\u4e00-\u9fff](?=(先生|女士|小姐|师傅|经理|老师|阿姨))")

_init_lock = threading.Lock()


@functools.cache
def _segmenter() -> jieba.Tokenizer:
    """One jieba tokenizer with the telecom words, built once (jieba's dictionary load is slow)."""
    with _init_lock:
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        for term in TELECOM_TERMS + POSITIVE_ZH + NEGATIVE_ZH:
            tokenizer.add_word(term, freq=20000)
        tokenizer.initialize()
        return tokenizer


# VADER's lexicon is general English; these telecom complaints carry no sentiment word of it.
VADER_TELECOM = {"dropping": -1.5, "drops": -1.5, "disconnected": -1.5, "outage": -2.0, "slow": -1.5,
                 "overcharged": -2.0, "waiting": -1.0, "unreachable": -1.5, "reliable": 1.5}


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(VADER_TELECOM)
    return analyzer


def words(text: str) -> list[str]:
    """Every word of a comment: jieba for Chinese, letters for English, lower-cased."""
    out = []
    for token in _segmenter().lcut(text or ""):
        token = token.strip().lower()
        if token and (CJK.search(token) or LATIN_WORD.fullmatch(token) or token in ("5g", "4g")):
            out.append(token)
    return out


def terms(text: str) -> list[str]:
    """The words that carry a theme: no stop words, no single Latin letters or lone CJK
    function characters (single-character judgements such as 慢 and 贵 stay)."""
    keep = set(POSITIVE_ZH) | set(NEGATIVE_ZH)
    return [w for w in words(text)
            if w not in ZH_STOP and w not in EN_STOP and (len(w) > 1 or w in keep)]


def sentiment(text: str) -> float:
    """−1 (negative) … +1 (positive): the Chinese lexicon with negation over the Chinese words,
    VADER over the English ones; a mixed comment averages the two."""
    tokens = words(text)
    scores = []
    if CJK.search(text or ""):
        positive = negative = 0
        for i, token in enumerate(tokens):
            polarity = 1 if token in POSITIVE_ZH else -1 if token in NEGATIVE_ZH else 0
            if polarity and any(t in NEGATORS for t in tokens[max(0, i - 2):i]):
                polarity = -polarity
            positive += polarity > 0
            negative += polarity < 0
        if positive or negative:
            scores.append((positive - negative) / (positive + negative))
    english = " ".join(LATIN_WORD.findall(text or ""))
    if len(english.split()) >= 2:
        scores.append(_vader().polarity_scores(english)["compound"])
    return round(sum(scores) / len(scores), 3) if scores else 0.0


def mask(text: str, names: Iterable[str] = ()) -> str:
    """Phone numbers, long numbers, e-mail addresses and people's names made unusable:
    13812345678 → 138****5678, a customer's name → 王某某, 李师傅 → 某师傅."""
    text = PHONE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)
    text = LONG_DIGITS.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        replacement = name[0] + "某某" if CJK.match(name) else name[0] + "."
        text = text.replace(name, replacement)
    return HONORIFIC.sub("某", text)


@dataclass
class Comment:
    text: str
    at: datetime
    names: tuple[str, ...] = ()


def _spectral_labels(matrix, max_k: int) -> np.ndarray:
    """Spectral clustering (Ng, Jordan & Weiss) on the comments' cosine-similarity graph, with
    the number of themes chosen by the largest eigengap. Short comments share few words, but
    the words of one topic keep company with each other: the graph sees that, k-means on raw
    TF-IDF vectors splits a topic into its word pairs."""
    similarity = (matrix @ matrix.T).tocsr()
    degree = np.asarray(similarity.sum(axis=1)).ravel()
    scale = diags(1 / np.sqrt(degree))
    adjacency = scale @ similarity @ scale
    count = min(max_k + 1, matrix.shape[0] - 1)
    values, vectors = eigsh(adjacency, k=count, which="LA", v0=np.ones(matrix.shape[0]))
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    # More separate groups than themes shown (every eigenvalue is 1): the largest ones win.
    saturated = values[-1] > 1 - 1e-6
    k = count - 1 if saturated else int(np.argmax(values[1:-1] - values[2:])) + 2
    embedding = normalize(vectors[:, :k])
    return KMeans(n_clusters=k, n_init=4, random_state=0).fit(embedding).labels_


def discover(comments: list[Comment], period_of: Callable[[datetime], str], quotes: int = 3) -> list[dict[str, Any]]:
    """Themes found in the comments, largest first: label (top terms), n, sentiment (mean),
    trend (comments per period) and masked representative quotes (nearest the centre)."""
    comments = [c for c in comments if c.text and terms(c.text)]
    if len(comments) < MIN_COMMENTS:
        return []
    vectorizer = TfidfVectorizer(tokenizer=terms, lowercase=False, token_pattern=None, min_df=2,
                                 max_df=0.6, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([c.text for c in comments])
    except ValueError:  # no term appears in two comments
        return []
    vocabulary = np.array(vectorizer.get_feature_names_out())
    # A comment that shares no term with any other belongs to no theme.
    connected = np.flatnonzero(np.diff((matrix @ matrix.T).tocsr().indptr) > 1)
    if len(connected) < MIN_COMMENTS:
        return []
    comments, matrix = [comments[i] for i in connected], matrix[connected]
    labels = _spectral_labels(matrix, MAX_THEMES)
    themes = []
    for cluster in sorted(set(labels)):
        members = np.flatnonzero(labels == cluster)
        centre = np.asarray(matrix[members].mean(axis=0)).ravel()
        if not centre.any():
            continue  # comments sharing no term with the others: not a theme
        top_terms = [str(vocabulary[i]) for i in np.argsort(centre)[::-1][:3] if centre[i] > 0]
        closeness = np.asarray(matrix[members] @ centre).ravel()
        nearest = members[np.argsort(closeness)[::-1]]
        picked = list(dict.fromkeys(comments[i].text for i in nearest))[:quotes]
        names = {n for i in members for n in comments[i].names}
        trend = Counter(period_of(comments[i].at) for i in members)
        themes.append({"label": " · ".join(top_terms), "terms": top_terms, "n": int(len(members)),
                       "sentiment": round(float(np.mean([sentiment(comments[i].text) for i in members])), 2),
                       "trend": [{"period": p, "n": trend[p]} for p in sorted(trend)],
                       "quotes": [mask(q, names) for q in picked]})
    themes.sort(key=lambda t: -t["n"])
    return themes
