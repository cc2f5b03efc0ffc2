import { onScopeDispose, ref, type Ref } from 'vue';
import { serverNow } from '../lib/clock';

const now = ref(serverNow());
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** One shared clock (server time) ticking every second while any component uses it. */
export function useNow(): Ref<number> {
  users += 1;
  if (!timer) {
    now.value = serverNow();
    timer = setInterval(() => (now.value = serverNow()), 1000);
  }
  onScopeDispose(() => {
    users -= 1;
    if (users === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  });
  return now;
}
