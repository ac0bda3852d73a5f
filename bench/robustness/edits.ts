/**
 * The catalogue of edits the robustness benchmark applies to each photo: what uploaders do to an
 * image, on purpose or not, between the copy a clearinghouse hashed and the copy that reaches an
 * upload form. Each edit is made with sharp from the photo as displayed (EXIF orientation
 * applied), and encoded as an upload would be.
 *
 * Groups (docs/thresholds.md reports each):
 * - `mild`: recompression, resizing, borders, a watermark, colour and blur edits: the edits a
 *   perceptual hash exists to survive (issue 5's targets: PDQ ≥ 99%, blockhash ≥ 97%);
 * - `crop`: cutting away the edges, which moves every block and every frequency;
 * - `dihedral`: flips and quarter turns, which dihedral matching is for (target 100% with it on);
 * - `hard`: edits beyond what either hash claims to survive, measured to show where they stop.
 */
import sharp, { type Sharp } from 'sharp';

export type EditGroup = 'mild' | 'crop' | 'dihedral' | 'hard';

/** One edit: a name, its group, and how to make it from the photo's bytes. */
export interface Edit {
  readonly name: string;
  readonly group: EditGroup;
  readonly description: string;
  apply(photo: Buffer): Promise<Buffer>;
}

/**
 * The photo as displayed (EXIF orientation applied) with the pixel values it stores, as hashwarden
 * hashes it (embedded ICC profile not applied), so that each edit is only what it says;
 * converting to sRGB through the profile is an edit of its own (`colour-managed`).
 */
function displayed(photo: Buffer): Sharp {
  return sharp(photo, { failOn: 'none', autoOrient: true, ignoreIcc: true });
}

/** The size of the photo as displayed. */
async function size(photo: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(photo, { failOn: 'none' }).metadata();
  return { width: meta.autoOrient?.width ?? meta.width ?? 0, height: meta.autoOrient?.height ?? meta.height ?? 0 };
}

/** Re-encodes as a photo upload would: JPEG quality 85 unless the edit says otherwise. */
const jpeg = (s: Sharp, quality = 85): Promise<Buffer> => s.jpeg({ quality }).toBuffer();

async function cropEachSide(photo: Buffer, fraction: number): Promise<Buffer> {
  const { width, height } = await size(photo);
  const left = Math.round(width * fraction);
  const top = Math.round(height * fraction);
  return jpeg(displayed(photo).extract({ left, top, width: width - 2 * left, height: height - 2 * top }));
}

/**
 * A logo in the bottom-right corner: a white rounded badge with a dark mark, `share` of the width
 * wide and `opacity` opaque. The usual one (12%, half opaque) is the size and weight of a site's
 * or an app's mark; the large one (22%, 80% opaque) covers what a visible stamp would.
 */
async function watermark(photo: Buffer, share: number, opacity: number): Promise<Buffer> {
  const { width, height } = await size(photo);
  const w = Math.max(16, Math.round(width * share));
  const h = Math.max(8, Math.round(w * 0.35));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <rect x="0" y="0" width="${w}" height="${h}" rx="${h / 4}" fill="#ffffff" fill-opacity="${opacity}"/>
    <circle cx="${h / 2}" cy="${h / 2}" r="${h / 3}" fill="#202020" fill-opacity="${opacity}"/>
    <rect x="${h}" y="${h * 0.3}" width="${w - h * 1.3}" height="${h * 0.15}" fill="#202020" fill-opacity="${opacity}"/>
    <rect x="${h}" y="${h * 0.55}" width="${(w - h * 1.3) * 0.7}" height="${h * 0.15}" fill="#202020" fill-opacity="${opacity}"/>
  </svg>`;
  const margin = Math.round(Math.min(width, height) * 0.03);
  return jpeg(
    displayed(photo).composite([{ input: Buffer.from(svg), left: width - w - margin, top: height - h - margin }]),
  );
}

async function letterbox(photo: Buffer, fraction: number): Promise<Buffer> {
  const { width, height } = await size(photo);
  const x = Math.round(width * fraction);
  const y = Math.round(height * fraction);
  return jpeg(displayed(photo).extend({ top: y, bottom: y, left: x, right: x, background: '#000000' }));
}

/** The edits, in the order of the tables. */
export const EDITS: readonly Edit[] = [
  { name: 'jpeg-q30', group: 'mild', description: 'JPEG at quality 30', apply: (p) => jpeg(displayed(p), 30) },
  { name: 'jpeg-q70', group: 'mild', description: 'JPEG at quality 70', apply: (p) => jpeg(displayed(p), 70) },
  {
    name: 'webp',
    group: 'mild',
    description: 'WebP at quality 75',
    apply: (p) => displayed(p).webp({ quality: 75 }).toBuffer(),
  },
  { name: 'png', group: 'mild', description: 'PNG re-save (lossless)', apply: (p) => displayed(p).png().toBuffer() },
  {
    name: 'resize-50',
    group: 'mild',
    description: 'resized to 50%',
    apply: async (p) => jpeg(displayed(p).resize({ width: Math.round((await size(p)).width / 2) })),
  },
  {
    name: 'resize-256w',
    group: 'mild',
    description: 'resized to 256 px wide',
    apply: (p) => jpeg(displayed(p).resize({ width: 256 })),
  },
  {
    name: 'share-1080',
    group: 'mild',
    description: 'social share: at most 1080 px wide, JPEG 80',
    apply: (p) => jpeg(displayed(p).resize({ width: 1080, withoutEnlargement: true }), 80),
  },
  {
    name: 'letterbox-10',
    group: 'mild',
    description: 'black border of 10% on every side',
    apply: (p) => letterbox(p, 0.1),
  },
  {
    name: 'watermark',
    group: 'mild',
    description: 'logo badge in the bottom-right corner, 12% of the width, half opaque',
    apply: (p) => watermark(p, 0.12, 0.5),
  },
  {
    name: 'brightness+25',
    group: 'mild',
    description: 'brightness +25%',
    apply: (p) => jpeg(displayed(p).modulate({ brightness: 1.25 })),
  },
  {
    name: 'contrast+30',
    group: 'mild',
    description: 'contrast ×1.3 around mid-grey',
    apply: (p) => jpeg(displayed(p).linear(1.3, -0.3 * 128)),
  },
  {
    name: 'saturation+50',
    group: 'mild',
    description: 'saturation ×1.5',
    apply: (p) => jpeg(displayed(p).modulate({ saturation: 1.5 })),
  },
  {
    name: 'colour-managed',
    group: 'mild',
    description: 're-saved by a colour-managed app: embedded ICC profile applied (to sRGB), JPEG 85',
    apply: (p) => jpeg(sharp(p, { failOn: 'none', autoOrient: true })),
  },
  { name: 'greyscale', group: 'mild', description: 'greyscale', apply: (p) => jpeg(displayed(p).greyscale()) },
  { name: 'blur-1.5', group: 'mild', description: 'Gaussian blur σ 1.5', apply: (p) => jpeg(displayed(p).blur(1.5)) },
  {
    name: 'sharpen',
    group: 'mild',
    description: 'sharpen (σ 1)',
    apply: (p) => jpeg(displayed(p).sharpen({ sigma: 1 })),
  },
  { name: 'crop-5', group: 'crop', description: 'crop 5% off every side', apply: (p) => cropEachSide(p, 0.05) },
  { name: 'crop-15', group: 'crop', description: 'crop 15% off every side', apply: (p) => cropEachSide(p, 0.15) },
  { name: 'flip-h', group: 'dihedral', description: 'mirrored left to right', apply: (p) => jpeg(displayed(p).flop()) },
  {
    name: 'flip-v',
    group: 'dihedral',
    description: 'turned upside down (mirrored top to bottom)',
    apply: (p) => jpeg(displayed(p).flip()),
  },
  {
    name: 'rotate-90',
    group: 'dihedral',
    description: 'rotated 90° clockwise',
    apply: (p) => jpeg(displayed(p).rotate(90)),
  },
  { name: 'rotate-180', group: 'dihedral', description: 'rotated 180°', apply: (p) => jpeg(displayed(p).rotate(180)) },
  {
    name: 'rotate-270',
    group: 'dihedral',
    description: 'rotated 90° counter-clockwise',
    apply: (p) => jpeg(displayed(p).rotate(270)),
  },
  {
    name: 'watermark-large',
    group: 'hard',
    description: 'logo badge in the bottom-right corner, 22% of the width, 80% opaque',
    apply: (p) => watermark(p, 0.22, 0.8),
  },
  {
    name: 'rotate-3',
    group: 'hard',
    description: 'rotated 3° (corners filled black)',
    apply: (p) => jpeg(displayed(p).rotate(3, { background: '#000000' })),
  },
  {
    name: 'crop-25-corner',
    group: 'hard',
    description: 'the top-left 75% × 75% kept',
    apply: async (p) => {
      const { width, height } = await size(p);
      return jpeg(
        displayed(p).extract({ left: 0, top: 0, width: Math.round(width * 0.75), height: Math.round(height * 0.75) }),
      );
    },
  },
];
