import { ref, type Ref } from 'vue';
import { showError } from '../lib/errors';

/**
 * The busy flag of a button and the one way its action runs: set busy, run, show any error as
 * a toast, clear busy. Returns whether the action completed.
 */
export function useBusy(): {
  busy: Ref<boolean>;
  run: (action: () => Promise<void>) => Promise<boolean>;
} {
  const busy = ref(false);
  async function run(action: () => Promise<void>): Promise<boolean> {
    busy.value = true;
    try {
      await action();
      return true;
    } catch (err) {
      showError(err);
      return false;
    } finally {
      busy.value = false;
    }
  }
  return { busy, run };
}
