/** My account: two-factor sign-in (authenticator app), passkeys, my sessions. */
import type { User } from '../../api/types';
import { t } from '../../i18n';
import { Passkeys } from './passkeys';
import { Sessions } from './sessions';
import { TwoFactor } from './two-factor';

export default function AccountScreen({ user }: { user: User }) {
  return (
    <div class="account-screen">
      <h1>{t('account.title')}</h1>
      <p class="hint">
        {user.org
          ? t('account.whoOrg', { login: user.login, org: user.org, role: t(`role.${user.role}`) })
          : t('account.who', { login: user.login, role: t(`role.${user.role}`) })}
      </p>
      <TwoFactor />
      <Passkeys />
      <Sessions />
    </div>
  );
}
