// The portal's public surface, for the composition root (src/pgwarden.ts).
export { portalPlugin, PORTAL_APPLICATION, type PortalOptions, type PortalPlugin } from './plugin.js';
export { CALLBACK_PATH } from './entra-routes.js';
