import { LIMITS } from '@kefu/shared/limits';

const TYPES = ['image/png', 'image/jpeg', 'image/gif'];

/** Checked before uploading: WeChat takes JPEG, PNG and GIF up to 2 MB. */
export function imageProblem(file: File): 'badType' | 'tooLarge' | null {
  if (!TYPES.includes(file.type)) return 'badType';
  if (file.size > LIMITS.imageMaxBytes) return 'tooLarge';
  return null;
}

export const IMAGE_ACCEPT = TYPES.join(',');
export const TEXT_MAX_CHARS: number = LIMITS.textMaxChars;
