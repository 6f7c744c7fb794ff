/** Entry: styles, the areas' screens (every web/src/<area>/screens.ts), the shell. */
import { render } from 'preact';
import './styles/app.css';
import { currentLang } from './i18n';
import { App } from './shell/app';

// Each area registers its screens itself (shell/registry.ts); eager, but the screens load lazily.
import.meta.glob('./*/screens.ts', { eager: true });

document.documentElement.lang = currentLang();
const root = document.getElementById('app');
if (root) render(<App />, root);
