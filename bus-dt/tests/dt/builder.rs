//! Writes blobs token by token, including ones no compiler would produce.

pub const BEGIN_NODE: u32 = 1;
pub const END_NODE: u32 = 2;
pub const NOP: u32 = 4;
pub const END: u32 = 9;

const HEADER_LEN: usize = 40;
/// One (0, 0) entry: an empty memory reservation map.
const RSVMAP_LEN: usize = 16;

#[derive(Default)]
pub struct Builder {
    structure: Vec<u8>,
    strings: Vec<u8>,
}

impl Builder {
    pub fn token(mut self, token: u32) -> Self {
        self.structure.extend(token.to_be_bytes());
        self
    }

    pub fn begin(self, name: &str) -> Self {
        let mut builder = self.token(BEGIN_NODE);
        builder.structure.extend(name.as_bytes());
        builder.structure.push(0);
        builder.pad()
    }

    pub fn end(self) -> Self {
        self.token(END_NODE)
    }

    /// A property whose name is stored in the strings block.
    pub fn prop(mut self, name: &str, value: &[u8]) -> Self {
        let name_offset = self.strings.len() as u32;
        self.strings.extend(name.as_bytes());
        self.strings.push(0);
        self.raw_prop(value.len() as u32, name_offset, value)
    }

    pub fn prop_u32(self, name: &str, cells: &[u32]) -> Self {
        let value: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.prop(name, &value)
    }

    /// A property with whatever length and name offset the test wants.
    pub fn raw_prop(self, len: u32, name_offset: u32, value: &[u8]) -> Self {
        let mut builder = self.token(3).token(len).token(name_offset);
        builder.structure.extend(value);
        builder.pad()
    }

    /// The blob: header, empty reservation map, structure block, strings block.
    pub fn build(self) -> Vec<u8> {
        let off_struct = HEADER_LEN + RSVMAP_LEN;
        let off_strings = off_struct + self.structure.len();
        let total = off_strings + self.strings.len();
        let header = [
            0xd00d_feed,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            HEADER_LEN as u32,
            17,
            16,
            0,
            self.strings.len() as u32,
            self.structure.len() as u32,
        ];
        let mut blob: Vec<u8> = header
            .iter()
            .flat_map(|field| field.to_be_bytes())
            .collect();
        blob.resize(off_struct, 0);
        blob.extend(self.structure);
        blob.extend(self.strings);
        blob
    }

    fn pad(mut self) -> Self {
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
        self
    }
}
