//! [`SimTransport`]: the [`Transport`] a driver under test uses to reach a simulated device.

use alloc::boxed::Box;

use super::handle::SimDevice;
use crate::{check_config_access, InterruptStatus, QueueAddresses, Transport, VirtioError};

/// Connected to a [`SimDevice`] (made by [`SimDevice::transport`]); every call is a step of the
/// device.
pub struct SimTransport {
    pub(crate) device: SimDevice,
}

impl SimTransport {
    /// Reads `N` config bytes at `offset` after the common access check.
    fn read_config<const N: usize>(&self, offset: usize) -> Result<[u8; N], VirtioError> {
        let state = self.device.state.lock();
        check_config_access(offset, N, state.config.len())?;
        let mut bytes = [0; N];
        bytes.copy_from_slice(&state.config[offset..offset + N]);
        Ok(bytes)
    }

    fn write_config(&mut self, offset: usize, bytes: &[u8]) -> Result<(), VirtioError> {
        let mut state = self.device.state.lock();
        check_config_access(offset, bytes.len(), state.config.len())?;
        state.config[offset..offset + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

impl Transport for SimTransport {
    fn device_id(&self) -> u32 {
        self.device.state.lock().device_id()
    }

    fn is_legacy(&self) -> bool {
        self.device.state.lock().is_legacy()
    }

    fn read_device_features(&mut self) -> Result<u64, VirtioError> {
        Ok(self.device.state.lock().device_features())
    }

    fn write_driver_features(&mut self, features: u64) -> Result<(), VirtioError> {
        self.device.state.lock().write_driver_features(features);
        Ok(())
    }

    fn get_status(&self) -> Result<u8, VirtioError> {
        Ok(self.device.state.lock().status())
    }

    fn set_status(&mut self, status: u8) -> Result<(), VirtioError> {
        self.device.state.lock().write_status(status);
        Ok(())
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, VirtioError> {
        Ok(self.device.state.lock().max_queue_size(index))
    }

    fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        self.device.state.lock().set_queue(index, size, rings)
    }

    fn queue_notify(&self, index: u16) -> Result<(), VirtioError> {
        self.device.state.lock().notify(index);
        Ok(())
    }

    fn config_size(&self) -> usize {
        self.device.state.lock().config.len()
    }

    fn config_generation(&self) -> Result<Option<u32>, VirtioError> {
        Ok(self.device.state.lock().config_generation())
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, VirtioError> {
        self.read_config(offset).map(u8::from_le_bytes)
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, VirtioError> {
        self.read_config(offset).map(u16::from_le_bytes)
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, VirtioError> {
        self.read_config(offset).map(u32::from_le_bytes)
    }

    fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), VirtioError> {
        self.write_config(offset, &value.to_le_bytes())
    }

    fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), VirtioError> {
        self.write_config(offset, &value.to_le_bytes())
    }

    fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), VirtioError> {
        self.write_config(offset, &value.to_le_bytes())
    }

    fn interrupt_status(&self) -> Box<dyn InterruptStatus> {
        Box::new(self.device.clone())
    }
}

impl InterruptStatus for SimDevice {
    fn take_causes(&self) -> Result<u32, VirtioError> {
        Ok(self.state.lock().take_interrupt_status())
    }
}
