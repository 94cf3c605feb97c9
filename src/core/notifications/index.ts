/** Notifications: channels, the events that feed them, the dispatcher that delivers them. */
export { NotificationService, type ChannelView } from './service.js';
export { Notifier } from './notifier.js';
export { Dispatcher, DEFAULT_RETRY, type RetryOptions } from './dispatcher.js';
export { Sender } from './sender.js';
export { DEFAULT_EVENTS, checkChannel, httpUrl } from './channel-input.js';
export { TLS_MODES, type EmailSettings } from './channels/email.js';
export type { NotificationMessage } from './message.js';
