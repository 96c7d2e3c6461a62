//! Reading messages: a conversation's page of them, one by id, and what one
//! simulated phone exchanged with an inbox. Sending is `conversations::send`.

use textdesk_core::Address;
use textdesk_store::{Inbox, Media, Message, MessagePage};

use crate::services::Services;
use crate::services::error::ServiceResult;

impl Services {
    /// A page of a conversation of the account (404 for any other).
    pub async fn messages(
        &self,
        account_id: i64,
        conversation_id: i64,
        page: MessagePage,
        limit: i64,
    ) -> ServiceResult<Vec<Message>> {
        Ok(self.store.messages(account_id, conversation_id, page, limit).await?)
    }

    /// A message of the account (404 for any other).
    pub async fn message(&self, account_id: i64, id: i64) -> ServiceResult<Message> {
        Ok(self.store.message_in_account(account_id, id).await?)
    }

    /// The latest `limit` messages between an inbox and one address.
    pub async fn messages_with(&self, inbox: &Inbox, address: &Address, limit: i64) -> ServiceResult<Vec<Message>> {
        Ok(self.store.messages_with_address(inbox.id, address.namespace(), address.value(), limit).await?)
    }

    /// An attachment by id; the caller has checked the signed link that names it.
    pub async fn attachment(&self, id: i64) -> ServiceResult<Media> {
        Ok(self.store.media(id).await?)
    }
}
