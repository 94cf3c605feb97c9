/**
 * The shapes of names, as patterns that core checks and the HTTP schemas publish (so that clients
 * can check before sending): safe in paths, URLs, file names and log lines.
 */

/** Instances and parts: 1 to 64 letters, digits or `_.-`, starting with a letter or digit. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

/** Users: the same, and `@` too (e-mail addresses as user names). */
export const USER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$';
