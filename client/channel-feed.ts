import type { ChatMessage } from './frames.js'
import { RecentMessages } from './recent-messages.js'

/**
 * What the client knows of one channel: the last message delivered (where a resume starts), the
 * recent ids (to drop repeats), and, while the channel's newest messages are being read after it
 * went live, the frames that must wait for them.
 */
export class ChannelFeed {
  readonly channel: string
  readonly delivered: RecentMessages<ChatMessage>
  lastId: string | undefined
  /** The channel had no message when first read: every message it has since is new to the application. */
  startedEmpty = false
  /** Messages that arrived while the newest ones were read; undefined when none are held. */
  held: ChatMessage[] | undefined
  /** The service confirmed the subscription on the current socket (and the newest messages are read). */
  live = false

  constructor (channel: string, remember: number, since?: string) {
    this.channel = channel
    this.delivered = new RecentMessages(remember)
    this.lastId = since
  }

  /** Records a message unless it was delivered already; says whether it was new. */
  take (message: ChatMessage): boolean {
    if (this.delivered.has(message.id)) return false
    this.delivered.add(message)
    this.lastId = message.id
    return true
  }
}
