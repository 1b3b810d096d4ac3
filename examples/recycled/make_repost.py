"""Make the demo's recycled image: an old airport scene passed off as a new one.

    python examples/recycled/make_repost.py OUT_DIR

Writes ``OUT_DIR/repost-2024-05-27.jpg`` and its provenance sidecar. The picture is the
demo's scene of 2024-03-04 (``ef92f434…``, Airbus site-02 acquisition a1), edited the way a
reposted image usually is: cropped, shrunk, turned 3°, its colours and contrast changed, set
in a frame with a caption, and saved again as a low-quality JPEG whose EXIF says what such a
file often carries: the editor's name and the capture time of the file it came from. The
sidecar presents it as new, from a new source, dated 2024-05-27 (the date the fictional blog
claims: not marked illustrative, since the demo checks it). ``make demo`` ingests it into
the demo airport; ``sitewatch verify recycled`` finds the earlier acquisition it reuses,
``sitewatch verify metadata`` the editing and the capture time before the date claimed, and
the report and the claims ledger say so.

The edits are fixed, so the file is the same on every run. It derives from the Airbus
sample, so it keeps that licence and credit (CC BY-NC-SA 4.0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, ImageEnhance

HERE = Path(__file__).parent
SOURCE = HERE.parent / "airport" / "ef92f434-c41b-4423-9218-4514c49f00c6.jpg"
NAME = "repost-2024-05-27.jpg"
SIDECAR = {
    "acquired": "2024-05-27",
    # the date the repost claims, which the demo checks (the Airbus scenes' are illustrative)
    "date_is_illustrative": False,
    "provider": "Example Blog (unattributed satellite image)",
    "credit": "Airbus Aircraft Detection sample dataset, © Airbus DS Intelligence "
    "(edited copy made for the sitewatch demo)",
    "licence": "CC BY-NC-SA 4.0",
    "source_url": "https://example.org/blog/airport-new-image",
    "notes": "An edited copy of the demo's 2024-03-04 scene (ef92f434…), presented as a new "
    "image of 2024-05-27: made by examples/recycled/make_repost.py to show recycled imagery.",
}


def repost(source: Path = SOURCE) -> Image.Image:
    """The edited copy of ``source``."""
    im = Image.open(source).convert("RGB")
    w, h = im.size
    im = im.crop((w // 8, h // 10, w - w // 6, h - h // 5))  # about 60 % of the scene kept
    im = im.resize((round(im.width * 0.7), round(im.height * 0.7)), Image.Resampling.LANCZOS)
    im = im.rotate(3.0, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(20, 20, 20))
    im = ImageEnhance.Color(im).enhance(1.4)
    im = ImageEnhance.Contrast(im).enhance(1.25)
    im = ImageEnhance.Brightness(im).enhance(0.9)
    pad, band = 24, 90  # a screenshot's frame and the caption under the picture
    framed = Image.new("RGB", (im.width + 2 * pad, im.height + 2 * pad + band), (250, 250, 250))
    framed.paste(im, (pad, pad))
    draw = ImageDraw.Draw(framed)
    draw.text((pad, im.height + 2 * pad + 10), "NEW satellite image, 27 May 2024:", fill=0)
    draw.text((pad, im.height + 2 * pad + 40), "aircraft crowd the airport's aprons", fill=0)
    return framed


def exif() -> bytes:
    """The EXIF a re-saved copy often carries: the editor, the time of the save, and the
    capture time of the file it came from (an illustrative one: the Airbus scene has none)."""
    tags = Image.Exif()
    tags[ExifTags.Base.Software] = "Adobe Photoshop 25.1 (Windows)"
    tags[ExifTags.Base.DateTime] = "2024:05:27 21:14:03"
    tags.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:03:04 10:41:00"
    return tags.tobytes()


def main(out_dir: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / NAME
    repost().save(path, "JPEG", quality=45, exif=exif())
    path.with_suffix(".json").write_text(json.dumps(SIDECAR, indent=1) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/recycled/make_repost.py OUT_DIR")
    print(main(sys.argv[1]))
