/**
 * Email over SMTP with nodemailer: plain text, the summary as subject. TLS modes: `tls` (implicit
 * TLS, usually port 465), `starttls` (plain connection upgraded, refused if the server cannot;
 * usually 587), `none` (plain text; for a relay on the same host or network).
 */
import nodemailer from 'nodemailer';
import { type NotificationMessage, textOf } from '../message.js';
import { DeliveryError, SEND_TIMEOUT_MS, type SendResult } from './http.js';

export const TLS_MODES = ['starttls', 'tls', 'none'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export interface EmailSettings {
  host: string;
  port: number;
  tls: TlsMode;
  user: string | null;
  from: string;
  to: string[];
}

export async function sendEmail(s: EmailSettings, password: string | null, m: NotificationMessage): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: s.host, port: s.port, secure: s.tls === 'tls', requireTLS: s.tls === 'starttls', ignoreTLS: s.tls === 'none',
    ...(s.user !== null ? { auth: { user: s.user, pass: password ?? '' } } : {}),
    connectionTimeout: SEND_TIMEOUT_MS, greetingTimeout: SEND_TIMEOUT_MS, socketTimeout: SEND_TIMEOUT_MS,
  });
  try {
    await transport.sendMail({ from: s.from, to: s.to, subject: m.summary.slice(0, 200), text: textOf(m) });
    return { status: null };
  } catch (err) {
    const code = (err as { responseCode?: number }).responseCode;
    throw new DeliveryError((err as Error).message, typeof code === 'number' ? code : null);
  } finally {
    transport.close();
  }
}
