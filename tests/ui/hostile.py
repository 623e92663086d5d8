"""Hostile imported text: Markdown and HTML that would make a browser fetch a URL or run script.

Each payload names a distinct path under ``url`` (a beacon server in the browser tests), so a
request that gets through says which payload let it. ``TEXTS`` go where Markdown is shown
(prompts, responses, rationales, guidelines); ``NAMES`` are one-line values for model names,
categories, rater ids, principles and flags, which are always shown as literal text.
"""

from __future__ import annotations


def texts(url: str) -> list[str]:
    """Payloads for prompts, responses and rationales (at least 30)."""
    return [
        # The three that got through the old regex escaping:
        f"\\`\\`\\` ![escaped backticks]({url}/escaped-backticks)",
        f"```js`\n![after an invalid fence opener]({url}/invalid-fence)\n```",
        f"``` ``\n![x]({url}/invalid-fence-2)",
        # Markdown images in every form and place:
        f"![plain]({url}/plain)",
        f"![reference][ref]\n\n[ref]: {url}/reference",
        f"![ref2][]\n\n[ref2]: {url}/collapsed-reference",
        f"![ref3]\n\n[ref3]: <{url}/shortcut-reference>",
        f"![angle](<{url}/angle destination>)",
        f'![titled]({url}/titled "title")',
        f"| a | b |\n|---|---|\n| ![in a table]({url}/table) | x |",
        f"- item\n  - ![in a list]({url}/list)",
        f"> quoted\n>\n> ![in a quote]({url}/blockquote)",
        f"*![in emphasis]({url}/emphasis)*",
        f"[![image in a link]({url}/image-in-link)]({url}/link-target)",
        f"````\n```\n````\n![after nested fences]({url}/nested-fences)",
        f"~~~\n```\n~~~\n![after a tilde fence]({url}/tilde-fence)",
        f"`` ` ![after an odd backtick]({url}/odd-backtick)",
        f"&#33;[entity bang]({url}/entity-bang) &excl;[named]({url}/named-entity)",
        f"!\\[escaped bracket]({url}/escaped-bracket)",
        f"\\![escaped bang]({url}/escaped-bang) !<{url}/bang-then-autolink>",
        f"!*[x]({url}/bang-emphasis)* !`x`[y]({url}/bang-code)",
        f"![data svg](data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'>"
        f"<image href='{url}/data-svg'/></svg>)",
        f":red[![in a directive]({url}/directive)] :material/home:",
        f"$\\includegraphics{{{url}/latex}}$ $$\\href{{{url}/latex-href}}{{x}}$$",
        f"<{url}/autolink> and www.example.invalid",
        # Raw HTML that fetches:
        f'<img src="{url}/img" onerror="alert(1)">',
        f'<img srcset="{url}/srcset 1x">',
        f'<picture><source srcset="{url}/picture"><img></picture>',
        f'<div style="background:url({url}/css-url)">styled</div>',
        f"<style>@import url({url}/css-import);</style>",
        f'<link rel="stylesheet" href="{url}/link-stylesheet">',
        f'<iframe src="{url}/iframe"></iframe>',
        f'<object data="{url}/object"></object>',
        f'<embed src="{url}/embed">',
        f'<video poster="{url}/video-poster"></video>',
        f'<audio src="{url}/audio" autoplay></audio>',
        f'<svg><image href="{url}/svg-image"/></svg><svg onload="alert(1)"></svg>',
        f'<svg><use href="{url}/svg-use#a"/></svg>',
        f'<script src="{url}/script"></script><script>alert(1)</script>',
        f'<input type="image" src="{url}/input-image">',
        f'<meta http-equiv="refresh" content="0;url={url}/meta-refresh">',
        f'<base href="{url}/base/">',
        f"<details open><summary>open</summary>\n\n![in details]({url}/details)\n\n</details>",
        f"<!-- ![in a comment]({url}/comment) -->",
        "[click me](javascript:alert(1)) <a href=javascript:alert(2)>a</a>",
    ]


def names(url: str) -> list[str]:
    """One-line payloads for model names, categories, rater ids, principles and flags."""
    return [
        f"![m]({url}/name-image)",
        f'<img src="{url}/name-img">',
        f"[![n]({url}/name-linked)](http://example.invalid)",
        f"`x` ![after code]({url}/name-after-code)",
    ]
