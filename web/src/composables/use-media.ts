import { onScopeDispose, ref, type Ref } from 'vue';

/** A reactive `matchMedia`. */
export function useMedia(query: string): Ref<boolean> {
  const mql = window.matchMedia(query);
  const matches = ref(mql.matches);
  const onChange = (e: MediaQueryListEvent) => (matches.value = e.matches);
  mql.addEventListener('change', onChange);
  onScopeDispose(() => mql.removeEventListener('change', onChange));
  return matches;
}

export const PHONE_QUERY = '(max-width: 767px)';
export const DESKTOP_QUERY = '(min-width: 900px)';
export const WIDE_QUERY = '(min-width: 1180px)';
