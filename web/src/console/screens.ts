/** The console for administrators and the security officer. Screens load lazily (own chunks). */
import { registerScreen } from '../shell/registry';
import { addMessages } from '../i18n';
import { en } from './messages.en';
import { de } from './messages.de';

addMessages({ en, de });

registerScreen({
  path: '/console/ledger',
  title: 'console.ledger.title',
  nav: { group: 'console', order: 80 },
  roles: ['admin'],
  load: () => import('./ledger-screen'),
});
