//! `tars_struct!`: declare a TARS struct once, get its Rust type, defaults, encoder and decoder.

/// Declares a TARS struct: the Rust struct, `Default` (with the IDL defaults), [`Encode`],
/// [`Decode`] and [`TupName`].
///
/// ```
/// tarsmon_framework::tars_struct! {
///     /// `struct TestInfo {1 require int ii=34; 2 optional string s="abc";}`
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct TestInfo: "Test.TestInfo" {
///         1 require ii: i32 = 34,
///         2 optional s: String = "abc",
///     }
/// }
/// let v = TestInfo::default();
/// assert_eq!(tarsmon_framework::codec::to_bytes(&v, 1), [0x1a, 0x10, 0x22, 0x0b]);
/// ```
///
/// Fields are `TAG require|optional|always NAME: TYPE [= DEFAULT]`, in ascending tag order
/// (checked at compile time). Encoding follows tars2cpp: `require` fields are always written,
/// `optional` ones are left out when [`Encode::is_omittable`] says so. `always` is a `require`
/// field that readers tolerate missing (Java omits `ResponsePacket.status`). Decoding skips unknown fields,
/// keeps defaults for missing optional fields, and fails on a missing `require` field.
/// A struct may take one lifetime to borrow strings from the input (`pub struct Head<'a>`).
///
/// [`Encode`]: crate::codec::Encode
/// [`Decode`]: crate::codec::Decode
/// [`TupName`]: crate::codec::TupName
/// [`Encode::is_omittable`]: crate::codec::Encode::is_omittable
#[macro_export]
macro_rules! tars_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident <$lt:lifetime> : $tup:literal {
            $( $(#[$fmeta:meta])* $tag:literal $req:ident $field:ident : $ty:ty $(= $default:expr)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name<$lt> {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }
        $crate::tars_struct!(@impl $vis $name, [<$lt>], $lt, $tup, { $( $tag $req $field : $ty $(= $default)? ),* });
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : $tup:literal {
            $( $(#[$fmeta:meta])* $tag:literal $req:ident $field:ident : $ty:ty $(= $default:expr)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }
        $crate::tars_struct!(@impl $vis $name, [], 'de, $tup, { $( $tag $req $field : $ty $(= $default)? ),* });
    };

    (@impl $vis:vis $name:ident, [$($gen:tt)*], $de:lifetime, $tup:literal,
        { $( $tag:literal $req:ident $field:ident : $ty:ty $(= $default:expr)? ),* }) => {
        const _: () = {
            let tags: &[u8] = &[$($tag),*];
            let mut i = 1;
            while i < tags.len() {
                assert!(tags[i - 1] < tags[i], "tars_struct!: field tags must ascend");
                i += 1;
            }
        };

        impl<$de> ::core::default::Default for $name $($gen)* {
            fn default() -> Self {
                Self { $( $field: $crate::tars_struct!(@default $ty $(, $default)?), )* }
            }
        }

        impl<$de> $name $($gen)* {
            /// Writes the fields without StructBegin/StructEnd (how call arguments and
            /// packets are framed).
            #[allow(unused_variables)]
            $vis fn encode_fields(&self, w: &mut $crate::codec::Writer) {
                $( $crate::tars_struct!(@write self, w, $req, $tag, $field, $ty $(, $default)?); )*
            }

            /// Reads the fields from a bare field sequence (the inverse of `encode_fields`).
            #[allow(unused_variables)]
            $vis fn decode_fields(
                r: &mut $crate::codec::Reader<$de>,
            ) -> ::core::result::Result<Self, $crate::codec::DecodeError> {
                Ok(Self { $( $field: $crate::tars_struct!(@read r, $req, $tag, $ty $(, $default)?), )* })
            }
        }

        impl<$de> $crate::codec::Encode for $name $($gen)* {
            fn encode(&self, w: &mut $crate::codec::Writer, tag: u8) {
                w.struct_begin(tag);
                self.encode_fields(w);
                w.struct_end();
            }
        }

        impl<$de> $crate::codec::Decode<$de> for $name $($gen)* {
            fn decode(
                r: &mut $crate::codec::Reader<$de>,
                tag: u8,
                ty: $crate::codec::TypeId,
            ) -> ::core::result::Result<Self, $crate::codec::DecodeError> {
                if ty != $crate::codec::TypeId::StructBegin {
                    return Err($crate::codec::DecodeError::Mismatch {
                        tag,
                        found: ty as u8,
                        expected: $tup,
                    });
                }
                r.nested(|r| {
                    let v = Self::decode_fields(r)?;
                    r.skip_to_struct_end()?;
                    Ok(v)
                })
            }
        }

        impl<$de> $crate::codec::TupName for $name $($gen)* {
            fn tup_name() -> String {
                $tup.to_owned()
            }
        }
    };

    (@default $ty:ty) => { <$ty as ::core::default::Default>::default() };
    (@default $ty:ty, $default:expr) => { ::core::convert::Into::<$ty>::into($default) };

    (@write $self:ident, $w:ident, require, $tag:literal, $field:ident, $ty:ty $(, $default:expr)?) => {
        $crate::codec::Encode::encode(&$self.$field, $w, $tag)
    };
    (@write $self:ident, $w:ident, always, $tag:literal, $field:ident, $ty:ty $(, $default:expr)?) => {
        $crate::codec::Encode::encode(&$self.$field, $w, $tag)
    };
    (@write $self:ident, $w:ident, optional, $tag:literal, $field:ident, $ty:ty $(, $default:expr)?) => {
        if !$crate::codec::Encode::is_omittable(
            &$self.$field,
            &$crate::tars_struct!(@default $ty $(, $default)?),
        ) {
            $crate::codec::Encode::encode(&$self.$field, $w, $tag)
        }
    };

    (@read $r:ident, require, $tag:literal, $ty:ty $(, $default:expr)?) => {
        $r.read::<$ty>($tag)?
    };
    (@read $r:ident, always, $tag:literal, $ty:ty $(, $default:expr)?) => {
        $crate::tars_struct!(@read $r, optional, $tag, $ty $(, $default)?)
    };
    (@read $r:ident, optional, $tag:literal, $ty:ty $(, $default:expr)?) => {
        match $r.read_opt::<$ty>($tag)? {
            Some(v) => v,
            None => $crate::tars_struct!(@default $ty $(, $default)?),
        }
    };
}
