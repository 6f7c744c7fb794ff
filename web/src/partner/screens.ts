/** The screens every signed-in user has: files, and their own account (sign-in methods, sessions). */
import { registerScreen } from '../shell/registry';

registerScreen({ path: '/files', title: 'files.title', nav: { group: 'main', order: 10 }, load: () => import('./files/files-screen') });
registerScreen({ path: '/account', title: 'account.title', nav: { group: 'account', order: 10 }, load: () => import('./account/account-screen') });
