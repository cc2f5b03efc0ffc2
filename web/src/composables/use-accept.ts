import { ref } from 'vue';
import { useI18n } from 'vue-i18n';
import { useRouter } from 'vue-router';
import { ApiError } from '../api/http';
import { showError, showWarning } from '../lib/errors';
import { useConversationsStore } from '../stores/conversations';
import { useDeskStore } from '../stores/desk';

const busy = ref<Record<string, boolean>>({});

/** Accept (or re-accept) a conversation and open it; tell the agent who won a lost race. */
export function useAccept() {
  const { t } = useI18n();
  const router = useRouter();
  const conversations = useConversationsStore();
  const desk = useDeskStore();

  async function accept(id: string): Promise<boolean> {
    if (busy.value[id]) return false;
    busy.value[id] = true;
    try {
      await conversations.accept(id);
      desk.tab = 'mine';
      await router.push({ name: 'desk', params: { id } });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CONV_ALREADY_TAKEN') {
        const name = conversations.takenBy[id];
        showWarning(name ? t('desk.taken', { name }) : t('errors.CONV_ALREADY_TAKEN'));
      } else {
        showError(err);
      }
      return false;
    } finally {
      busy.value[id] = false;
    }
  }

  return { accept, busy };
}
