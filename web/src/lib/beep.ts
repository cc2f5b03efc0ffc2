let ctx: AudioContext | null = null;
let lastAt = 0;

/** Browsers start audio suspended: resume it on the first user gesture. */
export function unlockAudio(): void {
  try {
    ctx ??= new AudioContext();
    if (ctx.state === 'suspended') void ctx.resume();
  } catch {
    ctx = null;
  }
}

/**
 * A short two-note chime made with WebAudio (no sound file). `soft` is quieter and single-note,
 * for a new message in an ongoing conversation. At most one chime per 1.5 s.
 */
export function beep(kind: 'alert' | 'soft' = 'alert'): void {
  const now = Date.now();
  if (now - lastAt < 1500) return;
  lastAt = now;
  unlockAudio();
  if (!ctx || ctx.state !== 'running') return;
  const notes = kind === 'alert' ? [880, 1318.5] : [987.8];
  const gainPeak = kind === 'alert' ? 0.18 : 0.08;
  notes.forEach((freq, i) => {
    if (!ctx) return;
    const start = ctx.currentTime + i * 0.16;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(gainPeak, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.28);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + 0.3);
  });
}
