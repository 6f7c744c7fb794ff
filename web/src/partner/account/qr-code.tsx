/**
 * A QR code drawn as SVG elements (uqr computes the modules): one <path> of unit squares, no
 * data: URL, no inline style, so it renders under the app's CSP.
 */
import { encode } from 'uqr';

export function QrCode(props: { value: string; label: string }) {
  const qr = encode(props.value, { ecc: 'M', border: 2 });
  let d = '';
  qr.data.forEach((row, y) =>
    row.forEach((on, x) => {
      if (on) d += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return (
    <svg class="qr" viewBox={`0 0 ${qr.size} ${qr.size}`} role="img" aria-label={props.label} shape-rendering="crispEdges" xmlns="http://www.w3.org/2000/svg">
      <rect width={qr.size} height={qr.size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
