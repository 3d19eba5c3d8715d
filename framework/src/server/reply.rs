//! Encoding a servant's outcome as the reply frame the caller's protocol expects.

use std::borrow::Cow;

use crate::packet::{RequestPacket, ResponsePacket, RetCode, StringMap, write_frame};
use crate::servant::{Reply, ServantError};
use crate::tup::UniAttribute;

/// Appends the reply frame for `request` to `out`.
///
/// TARS v1 callers get a `ResponsePacket` (C++ style: `sResultDesc` and `context` only when
/// non-empty). TUP callers get a `RequestPacket` whose `sBuffer` is a UniAttribute (an empty
/// one, `08 0c`, on error) and whose `status` carries `STATUS_RESULT_CODE`/`_DESC`, as the Node
/// server writes them. Oneway requests must not reach this function.
pub fn write_reply(request: &RequestPacket<'_>, outcome: Result<Reply, ServantError>, out: &mut Vec<u8>) {
    let (ret, desc, buffer) = match outcome {
        Ok(reply) => (RetCode::Success as i32, String::new(), reply.into_buffer()),
        Err(e) => (e.ret_code() as i32, e.to_string(), Vec::new()),
    };
    write_frame(out, |w| {
        if request.is_tup() {
            let buffer = if ret == 0 { buffer } else { UniAttribute::new(request.i_version).encode() };
            let mut status = StringMap::new();
            status.insert(Cow::Borrowed("STATUS_RESULT_CODE"), Cow::Owned(ret.to_string()));
            status.insert(Cow::Borrowed("STATUS_RESULT_DESC"), Cow::Owned(desc));
            RequestPacket {
                i_version: request.i_version,
                c_packet_type: 0,
                i_message_type: request.i_message_type,
                i_request_id: request.i_request_id,
                s_servant_name: Cow::Borrowed(&request.s_servant_name),
                s_func_name: Cow::Borrowed(&request.s_func_name),
                s_buffer: Cow::Owned(buffer),
                i_timeout: 0,
                context: StringMap::new(),
                status,
            }
            .encode_fields(w);
        } else {
            ResponsePacket {
                i_version: request.i_version,
                c_packet_type: 0,
                i_request_id: request.i_request_id,
                i_message_type: request.i_message_type,
                i_ret: ret,
                s_buffer: Cow::Owned(buffer),
                status: StringMap::new(),
                s_result_desc: Cow::Owned(desc),
                context: StringMap::new(),
            }
            .encode_fields(w);
        }
    });
}
